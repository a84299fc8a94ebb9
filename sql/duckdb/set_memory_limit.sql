-- Change the connection's memory_limit (a quoted size such as '256MB'), e.g. to retry a window
-- whose INSERT ran out of the configured limit.
SET memory_limit = {{memory_limit}};
