from datetime import datetime, timedelta, timezone

import jwt

from bot.domain.identity import identity_from_metadata, mint_token, verify_token

SECRET = "s3cret-for-tests-at-least-32-bytes-long"


def test_valid_token_names_the_account_and_normalised_cards():
    token = mint_token("acc-1", ["nl-efl-c12345678-9"], SECRET)
    identity = verify_token(token, SECRET)
    assert identity.account_id == "acc-1"
    assert identity.cards == ("NL-EFL-C12345678-9",)


def test_expired_forged_and_malformed_tokens_are_anonymous(caplog):
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    expired = mint_token("acc-1", [], SECRET, timedelta(minutes=1), now=past)
    forged = mint_token("acc-1", [], "another-secret-that-is-32-bytes-long")
    none_alg = jwt.encode({"sub": "acc-1", "exp": 9999999999}, key=None, algorithm="none")
    for token in (expired, forged, none_alg, "garbage", "a.b.c", 12345, "x" * 100_000, {"sub": "acc-1"}):
        assert verify_token(token, SECRET) is None
    assert forged not in caplog.text and expired not in caplog.text


def test_token_without_expiry_or_subject_is_refused():
    no_exp = jwt.encode({"sub": "acc-1", "cards": []}, SECRET, algorithm="HS256")
    no_sub = jwt.encode({"exp": 9999999999, "cards": []}, SECRET, algorithm="HS256")
    assert verify_token(no_exp, SECRET) is None
    assert verify_token(no_sub, SECRET) is None


def test_no_secret_configured_means_nobody_is_logged_in():
    token = mint_token("acc-1", [], SECRET)
    assert verify_token(token, None) is None


def test_metadata_shapes():
    token = mint_token("acc-1", [], SECRET)
    assert identity_from_metadata({"identity": token}, SECRET).account_id == "acc-1"
    for metadata in (None, [], "identity", {"identity": None}, {"other": token}):
        assert identity_from_metadata(metadata, SECRET) is None
