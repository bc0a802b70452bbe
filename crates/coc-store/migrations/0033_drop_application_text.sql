-- The free-text application columns, adopted by 0032, go: an incident's
-- application is read through its id. Scenarios never filled theirs.
ALTER TABLE incidents DROP COLUMN application;
ALTER TABLE oncall_scenarios DROP COLUMN application;
ALTER TABLE oncall_scenarios DROP COLUMN region;
