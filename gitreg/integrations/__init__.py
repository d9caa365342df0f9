"""gitreg under other tools' interfaces (each in a sub-package of its own, imported only when that tool asks)."""
