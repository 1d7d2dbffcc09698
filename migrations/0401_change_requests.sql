-- Change requests (docs/governance.md): with CHANGE_APPROVAL=required an admin write of rates,
-- rules, flags, coupons, promotions or price lists is stored here and applied, by replaying it
-- through the same route, only once another admin approves it.
CREATE TABLE change_requests (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author       jsonb NOT NULL,
    author_id    text NOT NULL,
    entity_type  text NOT NULL,
    entity_id    text,
    action       text NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    method       text NOT NULL,
    path         text NOT NULL,
    query        text NOT NULL DEFAULT '',
    body         jsonb,
    before       jsonb,
    base_version bigint NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'applied', 'rejected', 'conflicted')),
    apply_at     timestamptz,
    approver     jsonb,
    approver_id  text,
    decided_at   timestamptz,
    applied_at   timestamptz,
    result       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_requests_list_idx ON change_requests (created_at DESC, id DESC);
CREATE INDEX change_requests_due_idx ON change_requests (apply_at) WHERE status = 'approved';
