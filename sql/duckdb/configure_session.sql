-- Session settings for every connection. TIMESTAMPTZ values rendered as text (a column widened
-- to VARCHAR) or fetched into Python must not depend on the machine's time zone.
SET TimeZone = 'UTC';
