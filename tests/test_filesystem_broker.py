"""The embedded broker: every message arrives whole, once, while another process is still sending."""

from __future__ import annotations

import multiprocessing

from kombu import Connection, Consumer, Producer, Queue
from kombu.simple import SimpleQueue

from workers import filesystem_broker

MESSAGES = 300


def connection(folder, **more_options) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.001,
        **more_options,
    }
    return Connection("filesystem://", transport="workers.filesystem_broker:Transport", transport_options=options)


def send(folder) -> None:
    with connection(folder) as conn, SimpleQueue(conn, "readings") as queue:
        for number in range(MESSAGES):
            queue.put({"number": number, "padding": "x" * 20_000})


def test_it_delivers_every_message_whole_while_another_process_sends(tmp_path):
    sender = multiprocessing.get_context("spawn").Process(target=send, args=(tmp_path,))
    received = []
    with connection(tmp_path) as conn, SimpleQueue(conn, "readings") as queue:
        sender.start()
        while len(received) < MESSAGES:
            message = queue.get(timeout=30)
            received.append(message.payload["number"])
            assert len(message.payload["padding"]) == 20_000
            message.ack()
    sender.join(10)
    assert sorted(received) == list(range(MESSAGES))
    assert not [path.name for path in tmp_path.iterdir() if path.name.endswith(filesystem_broker.WRITING)]


def test_it_takes_every_message_of_the_first_queue_before_the_next_with_the_priority_order(tmp_path):
    first_readings, screening = Queue("celery", routing_key="celery"), Queue("screening", routing_key="screening")
    with connection(tmp_path, queue_order_strategy="priority") as conn:
        producer = Producer(conn.default_channel)
        for number in range(3):
            producer.publish({"number": number}, routing_key="screening", declare=[screening])
        for number in range(3):
            producer.publish({"number": number}, routing_key="celery", declare=[first_readings])
        received = []

        def note(body, message):
            received.append((message.delivery_info["routing_key"], body["number"]))
            message.ack()

        with Consumer(conn, queues=[first_readings, screening], callbacks=[note]):
            while len(received) < 6:
                conn.drain_events(timeout=5)

    assert received == [
        ("celery", 0),
        ("celery", 1),
        ("celery", 2),
        ("screening", 0),
        ("screening", 1),
        ("screening", 2),
    ]


def test_it_sorts_message_names_in_the_order_they_were_sent(tmp_path):
    # A queue name of its own: kombu keeps the queues a process declared, with their folders, for the process.
    with connection(tmp_path) as conn, SimpleQueue(conn, "names") as queue:
        queue.put({"number": 0})
        name = next(path.name for path in tmp_path.iterdir() if path.name.endswith(".msg"))
    assert len(name.partition("_")[0]) == 20
