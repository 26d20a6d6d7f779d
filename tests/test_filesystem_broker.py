"""The embedded broker: every message arrives whole, once, while another process is still sending."""

from __future__ import annotations

import multiprocessing

from kombu import Connection
from kombu.simple import SimpleQueue

from workers import filesystem_broker

MESSAGES = 300


def connection(folder) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.001,
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
