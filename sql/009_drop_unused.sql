-- 009: drop columns nothing reads or writes. The sign-in lock-out is counted from login_events
-- (004) since it was built, never from counters on app_users; dates are formatted by the app,
-- not per user. No trigger, view, function or column grant names these columns: the audit
-- trigger on app_users (008) copies whole rows with to_jsonb, so it simply stops listing them.
SET LOCAL search_path = milestone, public;

ALTER TABLE app_users
    DROP COLUMN failed_logins,
    DROP COLUMN first_failed_at,
    DROP COLUMN locked_until;

ALTER TABLE user_preferences DROP COLUMN date_format;
