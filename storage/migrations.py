"""The schema, one migration per step, applied in order. The schema changes nowhere else.

Every step is recorded in ``_sqlite_migrations`` by sqlite-utils and runs in its own
transaction, so a crash half-way through a migration leaves the previous schema intact.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database, Migrations

migrations = Migrations("caseflow")


def _run(db: Database, script: str) -> None:
    """Run a script statement by statement inside the migration's transaction.

    ``executescript()`` would COMMIT that transaction first and run the rest in autocommit, so
    a crash half-way would leave half a schema and a migration not marked as applied.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {statement[:60]!r}")


@migrations()
def m001_initial(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL
                CHECK (role IN ('admin', 'supervisor', 'worker', 'caregiver', 'client')),
            telegram_user_id INTEGER UNIQUE,
            local_user TEXT UNIQUE,
            lang TEXT NOT NULL DEFAULT 'en',
            supervisor_id INTEGER REFERENCES people(id),
            created_at TEXT NOT NULL
        );
        CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            title TEXT,
            facts TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(facts)),
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
            created_by INTEGER REFERENCES people(id),
            created_at TEXT NOT NULL
        );
        CREATE TABLE case_members (
            case_id INTEGER NOT NULL REFERENCES cases(id),
            person_id INTEGER NOT NULL REFERENCES people(id),
            role TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'caregiver', 'client')),
            added_at TEXT NOT NULL,
            PRIMARY KEY (case_id, person_id)
        );
        CREATE INDEX case_members_person ON case_members(person_id);
        -- Each flow version as it was when first used: sessions keep their version, and a
        -- record renders the same after the flow file has moved on.
        CREATE TABLE flow_versions (
            flow_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            source TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            PRIMARY KEY (flow_id, version)
        );
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            flow_id TEXT NOT NULL,
            flow_version INTEGER NOT NULL,
            respondent_id INTEGER NOT NULL REFERENCES people(id),
            channel TEXT NOT NULL,
            lang TEXT NOT NULL,
            phase TEXT NOT NULL,
            state TEXT NOT NULL,
            resume_state TEXT,
            editing INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL
                CHECK (status IN ('active', 'paused', 'completed', 'cancelled')),
            shown_at TEXT,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            completed_at TEXT,
            FOREIGN KEY (flow_id, flow_version) REFERENCES flow_versions(flow_id, version)
        );
        CREATE INDEX sessions_by_case ON sessions(case_id, flow_id, respondent_id, status);
        -- Answers are revised, never overwritten: one row per revision.
        CREATE TABLE answers (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            stage_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            parent_id TEXT,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            status TEXT NOT NULL CHECK (status IN ('answered', 'skipped', 'withdrawn')),
            value TEXT CHECK (value IS NULL OR json_valid(value)),
            display TEXT,
            shown_at TEXT,
            answered_at TEXT NOT NULL,
            changed_by INTEGER REFERENCES people(id),
            reason TEXT,
            UNIQUE (session_id, question_id, revision)
        );
        CREATE TABLE scores (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            stage_id TEXT NOT NULL,
            instrument_id TEXT NOT NULL,
            instrument_version INTEGER NOT NULL,
            total REAL,
            band TEXT,
            result TEXT NOT NULL CHECK (json_valid(result)),
            revision INTEGER NOT NULL CHECK (revision >= 1),
            computed_at TEXT NOT NULL,
            UNIQUE (session_id, stage_id, revision)
        );
        -- Who read or changed which record, when. Ids and action names only: no answer
        -- text, no names, nothing a reader of the audit log should not see.
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor_id INTEGER REFERENCES people(id),
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT,
            case_id INTEGER,
            detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
        );
        CREATE INDEX audit_by_case ON audit(case_id, at);
        """,
    )


@migrations()
def m002_signoff_invites_updates(db: Database) -> None:
    _run(
        db,
        """
        -- A worker signs off (locks) a session record; later changes need a stated reason.
        ALTER TABLE sessions ADD COLUMN signed_at TEXT;
        ALTER TABLE sessions ADD COLUMN signed_by INTEGER REFERENCES people(id);
        -- Where the bot reaches a person (private chat id) once they have talked to it.
        ALTER TABLE people ADD COLUMN telegram_chat_id INTEGER;
        -- One-time, expiring invitations to join a case (Telegram deep links).
        CREATE TABLE invites (
            token TEXT PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            role TEXT NOT NULL CHECK (role IN ('caregiver', 'client', 'worker')),
            created_by INTEGER NOT NULL REFERENCES people(id),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_by INTEGER REFERENCES people(id),
            used_at TEXT
        );
        -- Each Telegram update is handled once: its id is stored in the same transaction
        -- as its effect, so a redelivered update changes nothing.
        CREATE TABLE processed_updates (
            update_id INTEGER PRIMARY KEY,
            processed_at TEXT NOT NULL
        );
        -- Messages owed to people (a flagged answer for the case worker): written in the
        -- transaction that caused them, sent and marked afterwards, so none is lost.
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id),
            case_id INTEGER REFERENCES cases(id),
            kind TEXT NOT NULL,
            payload TEXT NOT NULL CHECK (json_valid(payload)),
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX outbox_unsent ON outbox(sent_at) WHERE sent_at IS NULL;
        """,
    )


@migrations()
def m004_schedules(db: Database) -> None:
    # One statement at a time: executescript() would COMMIT the transaction this migration
    # runs in first, and a crash half-way would leave half a schema.
    statements = [
        # A flow a case member answers on a schedule. The rule (flows.recurrence.Recurrence)
        # is JSON. Check-ins count from active_from: the creation, or the last resume.
        """CREATE TABLE schedules (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            person_id INTEGER NOT NULL REFERENCES people(id),
            flow_id TEXT NOT NULL,
            rule TEXT NOT NULL CHECK (json_valid(rule)),
            created_by INTEGER REFERENCES people(id),
            created_at TEXT NOT NULL,
            active_from TEXT NOT NULL,
            paused_at TEXT,
            removed_at TEXT
        )""",
        "CREATE INDEX schedules_by_case ON schedules(case_id)",
        # Everything that happens to a check-in (schedule_id, due_at): due, sent, reminded,
        # snoozed, started, completed, late, missed. The UNIQUE key makes each event happen
        # once: the same invitation is never sent twice, even after a restart.
        """CREATE TABLE schedule_events (
            id INTEGER PRIMARY KEY,
            schedule_id INTEGER NOT NULL REFERENCES schedules(id),
            due_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('due', 'sent', 'reminded', 'snoozed',
                'started', 'completed', 'late', 'missed')),
            key TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            session_id TEXT REFERENCES sessions(id),
            detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
            UNIQUE (schedule_id, due_at, kind, key)
        )""",
        "CREATE INDEX schedule_events_by_kind ON schedule_events(kind, schedule_id, due_at)",
        "CREATE INDEX schedule_events_by_session ON schedule_events(session_id)"
        " WHERE session_id IS NOT NULL",
    ]
    for statement in statements:
        db.execute(statement)


@migrations()
def m005_update_failures(db: Database) -> None:
    statements = [
        # Telegram updates whose handling failed: how often, with which exception class, and
        # when one was set aside (skipped after too many tries, so it blocks no chat). Ids,
        # counts and class names only: nothing from the update's body.
        """CREATE TABLE update_failures (
            update_id INTEGER PRIMARY KEY,
            tries INTEGER NOT NULL CHECK (tries >= 1),
            error TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            set_aside_at TEXT
        )""",
        # Processed update ids are pruned by age once Telegram can no longer redeliver them.
        "CREATE INDEX processed_updates_by_time ON processed_updates(processed_at)",
    ]
    for statement in statements:
        db.execute(statement)


@migrations()
def m007_flags_followups(db: Database) -> None:
    statements = [
        # A flag an answer raised, stored in the transaction of that answer, with the revision
        # that raised it. Texts are JSON {lang: text}, written when raised, so the alert and
        # the record read the same after the flow file has moved on. At most one standing
        # (not withdrawn) row per session and flag; a flag raised again is a new row.
        """CREATE TABLE flags (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            case_id INTEGER NOT NULL REFERENCES cases(id),
            flag_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            stage_id TEXT NOT NULL,
            answer_revision INTEGER NOT NULL CHECK (answer_revision >= 1),
            source TEXT NOT NULL DEFAULT 'flow',
            severity TEXT NOT NULL CHECK (severity IN ('info', 'attention', 'urgent')),
            message TEXT NOT NULL CHECK (json_valid(message)),
            respondent_message TEXT CHECK (respondent_message IS NULL
                OR json_valid(respondent_message)),
            question TEXT NOT NULL CHECK (json_valid(question)),
            answer TEXT NOT NULL CHECK (json_valid(answer)),
            raised_by INTEGER REFERENCES people(id),
            raised_at TEXT NOT NULL,
            withdrawn_at TEXT,
            sent_at TEXT,
            acknowledged_by INTEGER REFERENCES people(id),
            acknowledged_at TEXT,
            ack_note TEXT,
            escalated_to INTEGER REFERENCES people(id),
            escalated_at TEXT
        )""",
        "CREATE UNIQUE INDEX flags_standing ON flags(session_id, flag_id)"
        " WHERE withdrawn_at IS NULL",
        "CREATE INDEX flags_by_case ON flags(case_id, raised_at)",
        "CREATE INDEX flags_open ON flags(raised_at)"
        " WHERE acknowledged_at IS NULL AND withdrawn_at IS NULL",
        # A task a contact note or session record set on its case: what, by when, whose.
        # One per session and follow-up rule of its flow.
        """CREATE TABLE followups (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            owner_id INTEGER NOT NULL REFERENCES people(id),
            due_on TEXT NOT NULL CHECK (date(due_on) IS NOT NULL),
            session_id TEXT REFERENCES sessions(id),
            rule INTEGER,
            question_id TEXT,
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
            created_by INTEGER REFERENCES people(id),
            created_at TEXT NOT NULL,
            done_by INTEGER REFERENCES people(id),
            done_at TEXT,
            done_note TEXT,
            last_reminded_on TEXT,
            UNIQUE (session_id, rule)
        )""",
        "CREATE INDEX followups_open ON followups(due_on) WHERE status = 'open'",
        "CREATE INDEX followups_by_case ON followups(case_id)",
        # A worker's own times: quiet hours ('HH:MM-HH:MM', 'none'; NULL: 21:00-08:00) and
        # the daily digest ('HH:MM', 'off'; NULL: 08:00), in CASEFLOW_TZ.
        "ALTER TABLE people ADD COLUMN quiet_hours TEXT",
        "ALTER TABLE people ADD COLUMN digest_at TEXT",
        # The day (YYYY-MM-DD, CASEFLOW_TZ) of the last digest: one a day, also across a
        # restart. And what the worker's next text message is: the note of an
        # acknowledgement just tapped ('flag:ID' or 'followup:ID', with the time asked).
        "ALTER TABLE people ADD COLUMN last_digest_on TEXT",
        "ALTER TABLE people ADD COLUMN awaiting_note TEXT",
        # Outbox rows that wait (an attention flag in the worker's quiet hours), rows that
        # were called off (their flag withdrawn before it went out), and a key that makes a
        # message owed once (an escalation, a day's reminder, a digest) queued only once,
        # across restarts.
        "ALTER TABLE outbox ADD COLUMN not_before TEXT",
        "ALTER TABLE outbox ADD COLUMN cancelled_at TEXT",
        "ALTER TABLE outbox ADD COLUMN key TEXT",
        "CREATE UNIQUE INDEX outbox_key ON outbox(key) WHERE key IS NOT NULL",
    ]
    for statement in statements:
        db.execute(statement)


@migrations()
def m008_desk(db: Database) -> None:
    statements = [
        # One-time sign-in links to the desk. Only a hash of the token is kept, so a copy of
        # the database cannot sign anyone in; a token works once, within its 15 minutes.
        """CREATE TABLE desk_signin_tokens (
            token_hash TEXT PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id),
            created_by INTEGER REFERENCES people(id),
            created_via TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        )""",
        # Signed-in browsers. The cookie carries a signed random id; its hash is the key, so
        # signing out (or an administrator) ends a session whatever the browser still holds.
        """CREATE TABLE desk_sessions (
            id_hash TEXT PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id),
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT
        )""",
        "CREATE INDEX desk_sessions_by_person ON desk_sessions(person_id)",
        # A supervisor's (or worker's) comment given with a sign-off.
        "ALTER TABLE sessions ADD COLUMN sign_comment TEXT",
        # The caseload reads the latest contact of every case at once.
        "CREATE INDEX sessions_by_case_update ON sessions(case_id, updated_at)",
    ]
    for statement in statements:
        db.execute(statement)


@migrations()
def m009_case_file(db: Database) -> None:
    _run(
        db,
        """
        -- Who the client is. One row per case, changed in place (each change is audited).
        -- The client's name may be an alias; the age is kept as a birth year so that it
        -- stays right as the case goes on.
        CREATE TABLE case_profiles (
            case_id INTEGER PRIMARY KEY REFERENCES cases(id),
            client_name TEXT,
            birth_year INTEGER CHECK (birth_year IS NULL OR birth_year BETWEEN 1890 AND 2100),
            client_group TEXT CHECK (client_group IS NULL OR client_group IN (
                'left_behind_child', 'low_income_child', 'child_in_difficulty',
                'elder_alone', 'family', 'other')),
            caregiver TEXT,
            worker_id INTEGER REFERENCES people(id),
            updated_at TEXT NOT NULL,
            updated_by INTEGER REFERENCES people(id)
        );
        -- Informed consent: what was explained, who agreed (or did not), how and when. The
        -- latest row is the case's consent; a later refusal withdraws an earlier consent.
        CREATE TABLE consents (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            session_id TEXT REFERENCES sessions(id),
            agreed INTEGER NOT NULL CHECK (agreed IN (0, 1)),
            agreed_by TEXT NOT NULL,
            agreed_role TEXT NOT NULL
                CHECK (agreed_role IN ('client', 'caregiver', 'guardian', 'family_member')),
            method TEXT NOT NULL CHECK (method IN ('spoken', 'paper', 'chat')),
            agreed_on TEXT NOT NULL,
            explained TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(explained)),
            recorded_by INTEGER REFERENCES people(id),
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX consents_by_case ON consents(case_id, id);
        -- The intervention plan: numbered goals, each with the area it serves, the planned
        -- activities and a target.
        CREATE TABLE goals (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            number INTEGER NOT NULL CHECK (number >= 1),
            title TEXT NOT NULL,
            area TEXT,
            activities TEXT,
            target TEXT,
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'met', 'partly_met', 'not_met', 'dropped')),
            created_by INTEGER REFERENCES people(id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (case_id, number)
        );
        -- The goals a session worked on, with the progress rating given (if any). Written
        -- when the session record is completed, and again when an answer is amended.
        CREATE TABLE goal_progress (
            id INTEGER PRIMARY KEY,
            goal_id INTEGER NOT NULL REFERENCES goals(id),
            session_id TEXT NOT NULL REFERENCES sessions(id),
            rating INTEGER,
            low INTEGER,
            high INTEGER,
            rated_on TEXT,
            recorded_at TEXT NOT NULL,
            UNIQUE (goal_id, session_id)
        );
        CREATE INDEX goal_progress_by_session ON goal_progress(session_id);
        -- A session record's own facts, set from its answers when it is completed: the day
        -- the session was held (the timeline uses it), its number and intervention stage.
        ALTER TABLE sessions ADD COLUMN held_on TEXT;
        ALTER TABLE sessions ADD COLUMN number INTEGER;
        ALTER TABLE sessions ADD COLUMN stage TEXT;
        -- What completing the session's flow means for the case: consent, closing, follow_up.
        ALTER TABLE sessions ADD COLUMN purpose TEXT;
        -- Closing and reopening a case, with the reason, the closing report and the
        -- schedules that closing paused.
        CREATE TABLE case_events (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            kind TEXT NOT NULL CHECK (kind IN ('closed', 'reopened')),
            at TEXT NOT NULL,
            actor_id INTEGER REFERENCES people(id),
            reason TEXT,
            session_id TEXT REFERENCES sessions(id),
            schedules TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(schedules))
        );
        CREATE INDEX case_events_by_case ON case_events(case_id, id);
        """,
    )


@migrations()
def m010_web_links(db: Database) -> None:
    statements = [
        # A member's personal link to their check-ins in a browser. Only the SHA-256 of the
        # token is kept (the token is 256 random bits, so a fast hash is enough): a copy of
        # the database opens nothing, and the link is shown once, when it is made. At most
        # one live link per member and case; revoking or replacing keeps the row.
        """CREATE TABLE web_links (
            id INTEGER PRIMARY KEY,
            token_sha256 TEXT NOT NULL UNIQUE,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            person_id INTEGER NOT NULL REFERENCES people(id),
            created_by INTEGER REFERENCES people(id),
            created_at TEXT NOT NULL,
            revoked_by INTEGER REFERENCES people(id),
            revoked_at TEXT,
            replaced_by INTEGER REFERENCES web_links(id)
        )""",
        "CREATE UNIQUE INDEX web_links_live ON web_links(case_id, person_id)"
        " WHERE revoked_at IS NULL",
        # The channel that last showed a session's question, when it is not the one the
        # session started on (NULL). A session started on Telegram and carried on in the
        # browser is then not answered by a plain Telegram message meant for an older one.
        "ALTER TABLE sessions ADD COLUMN last_channel TEXT",
    ]
    for statement in statements:
        db.execute(statement)
