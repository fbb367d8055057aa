"""Running the server: the scheduled jobs, their schedules, leases and history."""
