-- An installment plan's change moves the configuration version (as every configuration table's does,
-- migration 0009): a quote with a card_bin repeated within its validity is then priced again, never
-- handed out with the options of a plan that changed (quotes/service.py's identical-request reuse
-- compares the version). The plans themselves are still read per quote with a card, not from the snapshot.
CREATE TRIGGER installment_plans_config_version AFTER INSERT OR UPDATE OR DELETE ON installment_plans
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER installment_plans_config_version_truncate AFTER TRUNCATE ON installment_plans
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
