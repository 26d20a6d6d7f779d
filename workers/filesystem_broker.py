"""kombu's filesystem transport (the embedded broker of `make run`), with messages written and taken atomically.

kombu creates a message's file under its final name and then writes it, while a worker takes any file with
that name: a worker polling at the wrong moment takes the file still empty, fails to parse it and stops
consuming. Here a message is written under a name no worker takes and renamed into the queue once whole,
and a worker takes a message by renaming it within the folder (atomic, so two workers never both take it)
rather than by moving it to the temporary folder, which is a copy when that is another file system.

kombu's worker loop for a transport like this one sleeps `polling_interval` whenever it finds nothing it may
take, and with acks_late and prefetch 1 it may take nothing until a task's message is acknowledged: each task
then waited out part of that sleep before the next one started. Here an acknowledgement wakes the loop at once.
With `queue_order_strategy` "priority" (as on Redis) a worker takes the first queue it consumes before the
next, from one listing of the folder, instead of taking the queues in turn.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from queue import Empty
from time import monotonic, monotonic_ns

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

# Suffixes that keep a file out of every queue: `<stamp>_<uuid>.<queue>.msg` is what a worker takes.
WRITING, TAKEN = ".writing", ".taken"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs: object) -> None:
        """Put the message onto the queue: written whole under a temporary name, then renamed into place."""
        # The stamp is zero-padded so that the names sort in the order they were sent.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        try:
            with open(final + WRITING, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(final + WRITING, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> dict:
        """Take the oldest message of the queue, or raise Empty."""
        if self.store_processed:
            return super()._get(queue)
        return self._take_oldest([queue])[1]

    def _poll(self, cycle: object, callback: Callable[[dict, str], None], timeout: float | None = None) -> None:
        """Deliver one message: with the "priority" queue order, the oldest of the first queue that has one."""
        if self.store_processed or self.transport_options.get("queue_order_strategy") != "priority":
            return super()._poll(cycle, callback, timeout=timeout)
        queue, payload = self._take_oldest(self._active_queues)
        callback(payload, queue)

    def _take_oldest(self, queues: list[str]) -> tuple[str, dict]:
        """Take the oldest message of the first of `queues` that holds one, from one listing; raise Empty if none."""
        waiting: dict[str, list[str]] = {}
        for name in sorted(os.listdir(self.data_folder_in)):
            waiting.setdefault(name.partition(".")[2], []).append(name)
        for queue in queues:
            for name in waiting.get(f"{queue}.msg", ()):
                path = os.path.join(self.data_folder_in, name)
                taken = f"{path}{TAKEN}-{os.getpid()}"
                try:
                    os.rename(path, taken)
                except OSError:
                    continue  # another worker took it first
                try:
                    with open(taken, "rb") as file:
                        payload = file.read()
                    os.remove(taken)
                except OSError as exc:
                    raise ChannelError(f"Cannot read file {taken!r} from queue.") from exc
                return queue, loads(bytes_to_str(payload))
        raise Empty()

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self.connection.slot_freed.set()

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)
        self.connection.slot_freed.set()


class Transport(filesystem.Transport):
    Channel = Channel

    def __init__(self, client: object, **kwargs: object) -> None:
        super().__init__(client, **kwargs)
        # Set when a message is acknowledged or rejected (the pool's result thread, in a worker).
        self.slot_freed = threading.Event()

    def drain_events(self, connection: object, timeout: float | None = None) -> None:
        """Deliver one message; between empty polls wait `polling_interval`, or less when a message is settled."""
        started = monotonic()
        polling_interval = self.polling_interval
        if timeout and polling_interval and polling_interval > timeout:
            polling_interval = timeout
        while True:
            self.slot_freed.clear()  # before looking, so a settlement while we look is not missed
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None  # socket.timeout, what kombu raises
                if polling_interval is not None:
                    self.slot_freed.wait(polling_interval)
