"""The town's scheme: its settings, its shops' sectors."""
