"""Access: staff accounts, sign-in with its throttle, sessions, till keys, two-factor."""
