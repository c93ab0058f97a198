"""A short two-speaker chat the search tests store in several ways."""

CHAT = [
    ("Bob", "Which city did you move to last spring?"),
    ("Ann", "Lisbon, and I love it there."),
    ("Bob", "I bought a red bicycle for commuting."),
    ("Ann", "My sister visited me in March."),
    ("Bob", "Which city did your sister fly in from?"),
    ("Ann", "From Oslo, she lives there now."),
]
