-- Approval policies (docs/governance.md#approval-policies): how many distinct people must approve
-- a change of one entity type before it applies. A policy also makes that type's writes change
-- requests when CHANGE_APPROVAL is off. A policy is changed only through a change request itself.
CREATE TABLE approval_policies (
    entity_type text PRIMARY KEY CHECK (entity_type ~ '^[a-z_]{1,64}$'),
    approvals   integer NOT NULL CHECK (approvals BETWEEN 1 AND 5),
    created_by  text NOT NULL,
    updated_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER approval_policies_audit AFTER INSERT OR UPDATE OR DELETE ON approval_policies
    FOR EACH ROW EXECUTE FUNCTION audit_row('approval_policy', 'entity_type');

-- A change request gathers approvals until it has `approvals_required` of them (each a different
-- person): `approvals` lists them, `[{kind, id, name, at}]`; `approver` stays the last one (who
-- applies it). `revert` (POST /audit/{id}/revert) writes an audit entry's `before` back.
ALTER TABLE change_requests
    ADD COLUMN approvals jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN approvals_required integer NOT NULL DEFAULT 1 CHECK (approvals_required BETWEEN 1 AND 5),
    DROP CONSTRAINT change_requests_action_check,
    ADD CONSTRAINT change_requests_action_check CHECK (action IN ('create', 'update', 'delete', 'revert'));
-- Approved and applied requests made before this migration had their one approver.
UPDATE change_requests
   SET approvals = jsonb_build_array(approver || jsonb_build_object('at', decided_at))
 WHERE approver IS NOT NULL AND status IN ('approved', 'applied', 'conflicted');
