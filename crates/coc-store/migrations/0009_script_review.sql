-- COC schema v9 (issue 5, X1): script review (manual review of high-risk
-- scripts by named reviewers or shift roles), system (common) scripts, and
-- every version of every script.
ALTER TABLE scripts ADD COLUMN manual_review BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scripts ADD COLUMN reviewers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE scripts ADD COLUMN review_status TEXT NOT NULL DEFAULT 'not_required';
ALTER TABLE scripts ADD COLUMN reviewed_by TEXT;
ALTER TABLE scripts ADD COLUMN reviewed_at BIGINT;
ALTER TABLE scripts ADD COLUMN review_comment TEXT;
ALTER TABLE scripts ADD COLUMN modified_by TEXT;
ALTER TABLE scripts ADD COLUMN system BIGINT NOT NULL DEFAULT 0;

CREATE TABLE script_versions (
    script_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (script_id, version)
);
