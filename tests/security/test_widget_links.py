"""Finding 7 in a real browser: deep-chat renders no javascript: link and no remote image from a bot message."""
from __future__ import annotations

import pytest

from tests.browser.test_widget import open_chat

pytestmark = pytest.mark.e2e

HOSTILE = ("[Pay your session here](javascript:alert(document.domain)) and "
           "![tracking](https://evil.example/pixel.png) and <javascript:alert(2)> and [ok](https://www.allego.eu)")


def test_bot_messages_render_no_script_links_or_remote_images(page, widget_site):
    open_chat(page, widget_site.url)
    page.evaluate("text => document.getElementById('chat').addMessage({role: 'ai', text})", HOSTILE)
    page.wait_for_function("() => document.getElementById('chat').shadowRoot.innerHTML.includes('Pay your session')")
    found = page.evaluate("""() => {
        const root = document.getElementById('chat').shadowRoot;
        return {hrefs: [...root.querySelectorAll('a')].map(a => a.getAttribute('href')),
                images: [...root.querySelectorAll('img')].map(i => i.getAttribute('src'))};
    }""")
    assert not any(h and h.strip().lower().startswith("javascript:") for h in found["hrefs"]), found
    assert not any(src and "evil.example" in src for src in found["images"]), found
    assert "https://www.allego.eu" in found["hrefs"]
