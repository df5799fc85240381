"""Services: the transaction boundary. Each public function checks permission, applies workflows rules,
writes, logs to the ActivityLog, commits, and only then enqueues background work."""
