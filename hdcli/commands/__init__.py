"""One module per command or command group; each has ``register(app)``."""

COMMANDS = (
    "open", "assign", "start", "reply", "note", "log", "close", "reopen", "show", "list",
    "org", "contract", "contact", "agent", "mail", "report", "approval", "config", "plugins",
    "db", "doctor", "demo",
)
