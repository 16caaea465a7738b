"""Act on alphastream scores: buy when reach_2x_1h is high and the dead-soon veto is quiet."""

import sys
import time

import orjson
from confluent_kafka import Consumer

THRESHOLD, VETO = 0.30, 0.50  # calibrated probabilities


def run(bootstrap: str, max_messages: int = 0, deadline_s: float = float("inf")) -> list[dict]:
    conf = {"bootstrap.servers": bootstrap, "group.id": "trader", "auto.offset.reset": "earliest"}
    consumer, actions, seen, stop_at = Consumer(conf), [], 0, time.monotonic() + deadline_s
    consumer.subscribe(["scores"])
    while (max_messages == 0 or seen < max_messages) and time.monotonic() < stop_at:
        msg = consumer.poll(1.0)
        if msg is None or msg.error():
            continue
        seen, score = seen + 1, orjson.loads(msg.value())
        p, dead = score["scores"]["reach_2x_1h"], score["scores"]["is_dead_soon"]
        p = score["rule_score"] if p is None else p  # no model yet: the rule score stands in
        if score["kind"] == "buy" and p >= THRESHOLD and (dead is None or dead < VETO):
            actions.append({"buy": score["mint"], "p": p, "pct_1h": score["percentile_1h"]})
            print(f"BUY {score['mint']} p={p:.2f} percentile={score['percentile_1h']}")
    consumer.close()
    return actions


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092")
