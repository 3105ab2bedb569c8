"""Test plugin that cannot even be imported."""

raise RuntimeError("the fixture plugin is broken on purpose")
