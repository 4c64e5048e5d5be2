"""moto_server, with two moto 5.2 SQS quirks worked around.

scripts/services starts moto through this file (`.venv/bin/python
scripts/moto-server.py -H 127.0.0.1 -p PORT`); its arguments are moto_server's.

1. Receive is quadratic in the queue's depth. `SQSBackend.receive_message` checks each message it hands out
against the retention period by calling `get_queue_attributes`, which builds
*every* queue attribute, three of them by scanning every message of the queue
(ApproximateNumberOfMessages, ...NotVisible, ...Delayed), each scan reading the
clock through datetime arithmetic. So one ReceiveMessage of 10 costs 30 scans
of the queue: measured here (moto 5.2.5, 2 cores) 1.5 s per receive with 1,000
messages queued and 4.5 s with 3,000, which turned the suite's end-to-end
drains into benchmarks of moto. The workaround reads the one attribute the
check needs, and reads the clock with time.time(): the same values and the
same comparison as moto's own code, without the scans.

2. Queue changes race. moto's threaded server runs requests on one queue at
once without a lock, and the queue's message list is changed in place by some
(a receive moving a message to the dead-letter queue removes it from the list)
and rebuilt by others (a delete copies every other message into a new list).
A delete copying the list while a receive removes from it skips one message:
that message is gone from the queue, neither delivered nor dead-lettered
(seen: one event in 3,000 lost in the 2,000-conversation test, with four
consumers and 15 poison messages). Two receives that both move the same
message to the DLQ fail with `ValueError: list.remove(x): x not in list`, a
500 with an HTML body. SQS does neither. The workaround runs every request
that changes messages (send, receive, delete, visibility, purge) one at a
time; a long poll waits outside the lock (in the same 1 s steps as moto's own
loop), so one consumer's empty long poll never holds up another's request.

Nothing else changes.
"""

import sys
import threading
import time

import moto.sqs.models as sqs
from moto.server import main

_unix_time = sqs.unix_time


def _within_retention(self, queue_name, message):
    # moto: retain_until = MessageRetentionPeriod + sent_timestamp / 1000;
    # valid unless retain_until <= now.
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return retain_until > time.time()


def _unix_time_now(dt=None):
    # moto's unix_time() of "now" is utcnow() minus the epoch: time.time().
    return time.time() if dt is None else _unix_time(dt)


def _unix_time_millis_now(dt=None):
    return _unix_time_now(dt) * 1000.0


_queue_lock = threading.RLock()  # delete_message_batch calls delete_message


def _one_at_a_time(method):
    def locked(*args, **kwargs):
        with _queue_lock:
            return method(*args, **kwargs)

    return locked


_receive = sqs.SQSBackend.receive_message


def _receive_one_at_a_time(
    self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None
):
    end = time.time() + wait_seconds_timeout
    while True:
        with _queue_lock:
            got = _receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        if got or time.time() >= end:
            return got
        self.get_queue(queue_name).wait_for_messages(1)


for _name in (
    "send_message",
    "send_message_batch",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
):
    setattr(sqs.SQSBackend, _name, _one_at_a_time(getattr(sqs.SQSBackend, _name)))
sqs.SQSBackend.is_message_valid_based_on_retention_period = _within_retention
sqs.SQSBackend.receive_message = _receive_one_at_a_time
sqs.unix_time = _unix_time_now
sqs.unix_time_millis = _unix_time_millis_now

if __name__ == "__main__":
    sys.exit(main())
