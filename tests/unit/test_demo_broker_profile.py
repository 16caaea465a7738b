"""The demo's embedded-broker profile changes only what the user left at its default."""

from __future__ import annotations

from streams.demo.config import EmbeddedBrokerProfile
from streams.settings import Settings


def test_profile_applies_to_defaults() -> None:
    profile = EmbeddedBrokerProfile(input_linger_ms=20.0, log_linger_ms=10.0)
    settings = Settings()
    changed = settings.model_copy(
        update=profile.overrides(set(settings.model_fields_set), workers=1)
    )
    assert changed.partitions == 1
    assert changed.input_linger_ms == 20.0
    assert changed.log_linger_ms == 10.0
    assert changed.kafka_idempotence is False


def test_profile_gives_every_worker_a_shard() -> None:
    assert EmbeddedBrokerProfile().overrides(set(), workers=3)["partitions"] == 3


def test_user_choices_win_over_the_profile(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALPHASTREAM_PARTITIONS", "6")
    monkeypatch.setenv("ALPHASTREAM_INPUT_LINGER_MS", "0")
    settings = Settings()
    out = EmbeddedBrokerProfile().overrides(set(settings.model_fields_set), workers=1)
    assert "partitions" not in out and "input_linger_ms" not in out
    assert out["log_linger_ms"] == EmbeddedBrokerProfile().log_linger_ms
    assert out["kafka_idempotence"] is False  # tansu refuses idempotent producers


def test_latency_definition_names_the_waits_it_includes() -> None:
    from streams.demo.analysis import latency_definition

    ticked = latency_definition(5.0, 20.0, tick_ms=50.0)
    assert "every 50 ms" in ticked and "wait for its tick" in ticked
    assert "(5 ms)" in ticked and "(20 ms)" in ticked
    plain = latency_definition(5.0, 1.0)
    assert "tick" not in plain and "CreateTime" in plain
