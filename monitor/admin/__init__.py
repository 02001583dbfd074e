"""What admins do, for both faces (the command line and the console): rules and users.

``monitor.admin.rules`` checks, tests, replays, saves and versions rule files; ``monitor.admin.users``
manages console users, roles and API tokens. The faces parse input and print; these decide.
"""
