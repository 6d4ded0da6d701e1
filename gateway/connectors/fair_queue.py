"""Messages waiting for an upstream window: FIFO per account, accounts served round robin,
so one bulk customer does not starve the others."""
from __future__ import annotations

from collections import deque

from gateway.model import Message


class FairQueue:
    def __init__(self) -> None:
        self._queues: dict[str, deque[Message]] = {}
        self._ring: deque[str] = deque()  # accounts with something queued, next to serve first
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, message: Message) -> None:
        queue = self._queues.get(message.account)
        if queue is None:
            queue = self._queues[message.account] = deque()
            self._ring.append(message.account)
        queue.append(message)
        self._size += 1

    def push_front(self, message: Message) -> None:
        """Put back a message that could not go (throttled): first of its account again."""
        queue = self._queues.get(message.account)
        if queue is None:
            queue = self._queues[message.account] = deque()
            self._ring.appendleft(message.account)
        queue.appendleft(message)
        self._size += 1

    def pop(self) -> Message:
        """The next account's oldest message; IndexError when empty."""
        account = self._ring[0]
        queue = self._queues[account]
        message = queue.popleft()
        self._size -= 1
        if queue:
            self._ring.rotate(-1)
        else:
            self._ring.popleft()
            del self._queues[account]
        return message

    def drain(self) -> list[Message]:
        """Everything queued, emptied (the connector is going away)."""
        out = [m for queue in self._queues.values() for m in queue]
        self._queues.clear()
        self._ring.clear()
        self._size = 0
        return out

    def depth_by_account(self) -> dict[str, int]:
        return {account: len(queue) for account, queue in self._queues.items()}
