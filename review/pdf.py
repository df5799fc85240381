"""PDF rendering with WeasyPrint, confined to the project's own static files.

The URL fetcher refuses every URL except files under static/ (and inline data: URLs): a letter template
must never read the server's disk elsewhere or call out to the network, whatever ends up in its data.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from review.config import PROJECT_ROOT

STATIC_ROOT = (PROJECT_ROOT / "static").resolve()


class RefusedURL(FatalURLFetchingError):
    """Stops the rendering: a letter that tried to fetch something forbidden must not be issued."""


class StaticOnlyFetcher(URLFetcher):
    """Allow-list, not deny-list: anything that is not a data: URL or an existing file under static/ is refused,
    so a new scheme or a path trick (../, symlinks, upper-case FILE:) cannot slip through."""

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        parsed = urlparse(url)
        if parsed.scheme == "data":
            return super().fetch(url, headers)
        if parsed.scheme == "file":
            path = Path(unquote(parsed.path)).resolve()
            if STATIC_ROOT in path.parents and path.is_file():
                return URLFetcherResponse(path.as_uri(), path.read_bytes())
        raise RefusedURL(f"URL refused in PDF rendering: {url[:80]}")


def html_to_pdf(html: str) -> bytes:
    """Relative URLs resolve inside static/; RefusedURL (fatal, unlike WeasyPrint's usual skip-and-warn) stops
    the rendering, so a letter that tried to reach the disk or the network is never produced."""
    return HTML(string=html, base_url=STATIC_ROOT.as_uri() + "/", url_fetcher=StaticOnlyFetcher()).write_pdf()
