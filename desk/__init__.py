"""The desk: workers and supervisors in the browser (Starlette, server-rendered Jinja)."""
