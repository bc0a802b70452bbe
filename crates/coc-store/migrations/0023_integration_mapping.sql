-- COC schema v23 (issue 17): a generic integration's field mapping (JSON
-- pointers to the alarm fields in the sender's own JSON), JSON text.
ALTER TABLE integrations ADD COLUMN mapping TEXT;
