#!/usr/bin/env python3
"""Hand-written Kafka -> Redis bridge, the baseline of `make bench` (issue 7).

A confluent-kafka Consumer reads the topic from the beginning in batches
(consume(num_messages=10000)) and applies each batch to Redis with one redis-py pipeline of
SET b:<key> <value> (transaction=False). It stops when --records records are applied, checks
DBSIZE == --keys, and prints one JSON line: records, seconds, records_per_sec, dbsize.
Timing starts before the consumer is created, as it does for the module's sink (from CREATE).
"""

import argparse
import json
import sys
import time

import redis
from confluent_kafka import Consumer, KafkaError

STALL_SECONDS = 60


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--records", type=int, required=True)
    p.add_argument("--keys", type=int, required=True, help="distinct keys expected at the end")
    p.add_argument("--config", action="append", default=[], metavar="NAME=VALUE",
                   help="extra librdkafka consumer property (repeatable)")
    return p.parse_args()


def bridge(args, r):
    """Applies records until --records are in Redis; returns the elapsed seconds."""
    start = time.perf_counter()
    config = {
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    config.update(item.split("=", 1) for item in args.config)
    consumer = Consumer(config)
    consumer.subscribe([args.topic])
    applied = 0
    last_progress = time.monotonic()
    try:
        while applied < args.records:
            messages = consumer.consume(num_messages=10000, timeout=0.5)
            if not messages:
                if time.monotonic() - last_progress > STALL_SECONDS:
                    sys.exit(f"stalled at {applied} of {args.records} records")
                continue
            pipe = r.pipeline(transaction=False)
            for m in messages:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    sys.exit(f"consume: {m.error()}")
                pipe.set(b"b:" + m.key(), m.value())
                applied += 1
            pipe.execute()
            last_progress = time.monotonic()
        return time.perf_counter() - start
    finally:
        consumer.close()


def main():
    args = parse_args()
    r = redis.Redis(host="127.0.0.1", port=args.redis_port)
    seconds = bridge(args, r)
    dbsize = r.dbsize()
    if dbsize != args.keys:
        sys.exit(f"DBSIZE {dbsize} after {args.records} records, expected {args.keys}")
    print(json.dumps({
        "records": args.records,
        "seconds": seconds,
        "records_per_sec": args.records / seconds,
        "dbsize": dbsize,
    }))


if __name__ == "__main__":
    main()
