"""Portal test helpers; the Playwright fixtures come from tests/playwright_plugin.py."""

import io

import pytest

from tests.factories import PASSWORD


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def manager_client(client, customer_manager):
    client.force_login(customer_manager)
    return client


def png_bytes() -> bytes:
    # A real 1x1 PNG, so the sniffer sees image/png.
    return bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )


def upload(name: str = "screen.png", data: bytes | None = None) -> io.BytesIO:
    f = io.BytesIO(png_bytes() if data is None else data)
    f.name = name
    return f


__all__ = ["PASSWORD", "upload"]
