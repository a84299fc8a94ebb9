-- Copy the staged window into the table. The select list converts each staged column, by name,
-- to the table's column (JSON text parsed, narrower types cast, values a typed column cannot hold
-- sent to its STRING sibling); table columns the staged window lacks stay NULL.
INSERT INTO {{table}} ({{columns}})
SELECT {{values}}
FROM {{staging}};
