"""The desk's admin pages: how they word times, durations, sizes and people, the same on every page."""
