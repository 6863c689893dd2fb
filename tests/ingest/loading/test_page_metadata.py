"""A page's own metadata (JSON-LD in its real-world shapes, Open Graph) and the article rule."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest

from ingest.loading.extract import Page, extract_html, read_page
from ingest.loading.page_kind import ArticleRule, is_listing_url, skip_reason
from ingest.loading.page_metadata import PageMetadata, page_metadata
from tests.ingest.pages import article_html, headlines, index_html, news_article_ld, story

URL = "https://gazette.test/news/2024/05/harbour-plan"


def metadata(page: str, url: str = URL) -> PageMetadata:
    return page_metadata(lxml.html.fromstring(page), url)


def test_a_news_article_node_gives_every_field() -> None:
    node = news_article_ld(
        "Harbour plan approved",
        author={"@type": "Person", "name": "Mara Lindqvist"},
        articleSection="Local",
        datePublished="2024-05-01T08:00:00+02:00",
        dateModified="2024-05-02T09:30:00+02:00",
        publisher={"@type": "Organization", "name": "The Gazette"},
        mainEntityOfPage={"@type": "WebPage", "@id": URL},
    )
    found = metadata(article_html("Ignored title", story("harbour"), json_ld=node))
    assert found.headline == "Harbour plan approved"
    assert found.authors == ("Mara Lindqvist",)
    assert (found.section, found.publisher, found.canonical_url) == ("Local", "The Gazette", URL)
    assert (found.published, found.modified) == ("2024-05-01T08:00:00+02:00", "2024-05-02T09:30:00+02:00")
    assert found.declares_article and found.free is None


@pytest.mark.parametrize(
    ("author", "names"),
    [
        ("Ines Varga", ("Ines Varga",)),
        ({"name": "Ines Varga"}, ("Ines Varga",)),
        ([{"name": "Ines Varga"}, "Tom Berg", {"name": "Ines Varga"}], ("Ines Varga", "Tom Berg")),
        ([{"@type": "Person", "name": ["Ines Varga"]}], ("Ines Varga",)),
        ("https://gazette.test/authors/ines", ()),  # a profile URL is not a name
        ({"@id": "#nobody"}, ()),
    ],
)
def test_an_author_is_read_as_a_string_an_object_or_a_list(author: Any, names: tuple[str, ...]) -> None:
    node = news_article_ld("Harbour plan", author=author)
    assert metadata(article_html("t", story("harbour"), json_ld=node)).authors == names


def test_a_graph_is_searched_and_its_author_and_publisher_references_are_resolved() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "@id": "https://gazette.test/#site", "name": "Gazette site"},
            {"@type": "Organization", "@id": "https://gazette.test/#org", "name": "The Gazette"},
            {"@type": "Person", "@id": "https://gazette.test/#ines", "name": "Ines Varga"},
            {
                "@type": ["ReportageNewsArticle"],
                "headline": "Ferry &amp; harbour schedules change",
                "author": [{"@id": "https://gazette.test/#ines"}],
                "publisher": {"@id": "https://gazette.test/#org"},
                "datePublished": "2024-05-03",
            },
        ],
    }
    found = metadata(article_html("t", story("ferry"), json_ld=graph))
    assert found.headline == "Ferry & harbour schedules change"  # HTML entities unescaped
    assert (found.authors, found.publisher, found.published) == (("Ines Varga",), "The Gazette", "2024-05-03")
    assert {"WebSite", "Organization", "ReportageNewsArticle"} <= found.kinds


def test_a_list_of_scripts_objects_and_a_prefixed_type_are_read() -> None:
    nodes = [
        {"@type": "BreadcrumbList", "itemListElement": []},
        {"@type": "schema:BlogPosting", "headline": "Diary of a harbour", "datePublished": "2024-05-04"},
    ]
    found = metadata(article_html("t", story("diary"), json_ld=nodes))
    assert (found.headline, found.published, found.declares_article) == (
        "Diary of a harbour",
        "2024-05-04",
        True,
    )


def test_articles_listed_in_an_item_list_do_not_make_the_page_an_article() -> None:
    listing = {
        "@context": "https://schema.org",
        "@type": "ItemList",
        "itemListElement": [{"@type": "ListItem", "item": news_article_ld("A listed story")}],
    }
    found = metadata(index_html("Local news", headlines(3), json_ld=listing))
    assert not found.declares_article and found.headline == ""
    assert "ItemList" in found.kinds


def test_malformed_json_ld_is_ignored_and_the_meta_tags_still_count() -> None:
    page = article_html(
        "t",
        story("harbour"),
        json_ld='{"@type": "NewsArticle", "headline": "broken", ',  # cut off: not JSON
        meta={
            "og:title": "Harbour plan approved",
            "og:site_name": "The Gazette",
            "og:type": "article",
            "article:published_time": "2024-05-01T08:00:00Z",
            "article:modified_time": "not a date",
            "article:section": "Local",
            "author": "Mara Lindqvist",
            "og:url": "/news/harbour?utm=x",
        },
    )
    found = metadata(page)
    assert (found.headline, found.publisher, found.section) == (
        "Harbour plan approved",
        "The Gazette",
        "Local",
    )
    assert (found.published, found.modified) == ("2024-05-01T08:00:00+00:00", "")  # a bad date is left out
    assert found.authors == ("Mara Lindqvist",)
    assert found.canonical_url == "https://gazette.test/news/harbour?utm=x"  # resolved against the page URL
    assert found.declares_article  # og:type article


def test_the_canonical_link_wins_and_a_missing_date_is_empty() -> None:
    node = news_article_ld("Harbour plan", url="https://gazette.test/amp/harbour")
    page = article_html("t", story("harbour"), json_ld=node, canonical="https://gazette.test/news/harbour")
    found = metadata(page)
    assert found.canonical_url == "https://gazette.test/news/harbour"
    assert (found.published, found.modified) == ("", "")


@pytest.mark.parametrize(
    ("value", "free"), [(False, False), ("False", False), ("true", True), ("maybe", None)]
)
def test_is_accessible_for_free_is_read_as_a_boolean_or_a_string(value: Any, free: bool | None) -> None:
    node = news_article_ld("Members only", isAccessibleForFree=value)
    assert metadata(article_html("t", ["Subscribe to read."], json_ld=node)).free is free


def test_the_html_extraction_takes_the_page_metadata_over_trafilatura_guesses() -> None:
    node = news_article_ld(
        "Harbour plan approved",
        author=[{"name": "Mara Lindqvist"}, {"name": "Tom Berg"}],
        datePublished="2024-05-01",
        dateModified="2024-05-02T10:00:00Z",
        articleSection="Local",
        publisher={"name": "The Gazette"},
    )
    extracted = extract_html(article_html("Other title", story("harbour"), json_ld=node), "page.html", URL)
    assert (extracted.title, extracted.published, extracted.sitename) == (
        "Harbour plan approved",
        "2024-05-01",
        "The Gazette",
    )
    assert extracted.authors == ("Mara Lindqvist", "Tom Berg")
    assert (extracted.modified, extracted.section) == ("2024-05-02T10:00:00+00:00", "Local")
    assert "approve the harbour plan" in extracted.text


# --- the article rule ---------------------------------------------------------------------------


def page(html_text: str, url: str = URL) -> Page:
    return read_page(html_text, "test", url)


RULE = ArticleRule()


def test_an_article_passes_the_rule_and_a_section_front_is_an_index_page() -> None:
    assert skip_reason(page(article_html("Harbour plan", story("harbour"))), URL, RULE) is None
    front = page(index_html("Local news", headlines(30)), "https://gazette.test/local/news")
    assert front.link_density > 0.75
    assert skip_reason(front, "https://gazette.test/local/news", RULE) == "index page"


def test_an_article_declared_as_one_is_kept_however_many_links_its_page_has() -> None:
    crowded = article_html("Harbour plan", story("harbour"), nav_links=400, meta={"og:type": "article"})
    judged = page(crowded)
    assert judged.link_density > 0.75
    assert skip_reason(judged, URL, RULE) is None
    undeclared = page(article_html("Harbour plan", story("harbour"), nav_links=400))
    assert skip_reason(undeclared, URL, RULE) == "index page"


def test_listing_urls_and_listing_types_are_index_pages() -> None:
    text = article_html("Harbour plan", story("harbour"))
    for url in ("https://gazette.test/", "https://gazette.test/tag/harbour", "https://gazette.test/page/2"):
        assert skip_reason(page(text, url), url, RULE) == "index page", url
    collection = article_html("All stories", story("harbour"), json_ld={"@type": "CollectionPage"})
    assert skip_reason(page(collection), URL, RULE) == "index page"
    assert not is_listing_url("https://gazette.test/themen/harbour-plan-approved")
    assert not is_listing_url("https://gazette.test/page/about-us")
    assert not is_listing_url("https://gazette.test/?p=123")


def test_a_short_page_is_too_short_and_a_short_paywalled_one_a_paywall_stub() -> None:
    teaser = ["The council approved the harbour plan. Subscribe to read the whole story today."]
    assert skip_reason(page(article_html("Harbour", teaser)), URL, RULE) == "too short"
    paywalled = article_html("Harbour", teaser, json_ld=news_article_ld("Harbour", isAccessibleForFree=False))
    assert skip_reason(page(paywalled), URL, RULE) == "paywall stub"
    assert skip_reason(page(article_html("Harbour", teaser)), URL, ArticleRule(min_words=5)) is None
