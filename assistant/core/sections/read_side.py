"""The sections of the read side: retrieval, answering, the LLM, and the news signals (syndication,
corroboration). Each field is the one declaration of a flat setting."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from assistant.core.sections.base import Section


class RetrievalSettings(Section):
    """Dense + lexical candidates and their fusion (assistant/retrieval/)."""

    retrieve_k: int = Field(40, ge=1, description="Dense candidates fetched per question.")
    lexical_k: int = Field(40, ge=1, description="BM25 sentence candidates fetched per question.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant (dense + BM25 ranks).")
    neighbour_candidates: int = Field(
        10, description="The sentences before and after each of this many best-fused candidates join them."
    )
    article_candidates: int = Field(
        0,
        ge=0,
        description="This many articles, the best by BM25 over their title and text, are read whole "
        "(their sentences go through the first pass, read_sentences; 0: none; measured: "
        "docs/answering.md).",
    )
    recent_article_candidates: int = Field(
        0,
        ge=0,
        description="The same for this many more articles, the best of those published in the "
        "recent_days before the question's day (0: none).",
    )
    recent_days: int = Field(14, ge=1, description="The days before the question's day that are recent.")
    read_sentences: int = Field(
        60,
        ge=0,
        description="The sentences of the articles read whole that join the candidates: the best by a "
        "first pass over all of them (cosine from stored int8 vectors, BM25, place; 0: all of them).",
    )


class AnsweringSettings(Section):
    """The question, its scope and the extractive answer (assistant/pipeline/, assistant/answering/)."""

    answer_mode: Literal["extractive", "llm"] = Field("extractive", description="Answerer.")
    answer_max_sentences: int = Field(3, ge=1, description="Most sentences in an answer.")
    answer_score_margin: float = Field(
        1.0,
        description="Extra answer sentences must score within this margin of the best one (ranker score "
        "units: a question's candidates spread about 1.3 around their mean) and be supported.",
    )
    duplicate_overlap: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Word overlap (Jaccard, 0-1) above which a sentence repeats one already cited.",
    )
    refusal_min_support: float = Field(
        0.35,
        description="Refuse when the best sentence's support (mean of its dense similarity to the question "
        "and the IDF-weighted share of question terms found around it) is below this.",
    )
    chat_history_turns: int = Field(6, description="Earlier chat turns used to resolve a follow-up question.")
    latest_prefers_newest: bool = Field(
        True,
        description="For questions about the latest or current state, cite first the newest sentence that "
        "answers about as well as the best one (see latest_score_margin); the refusal decision is unchanged.",
    )
    latest_score_margin: float = Field(
        0.5,
        ge=0,
        description="A newer sentence may lead a 'latest' answer if it scores within this of the best one.",
    )
    question_date_filters: bool = Field(
        True,
        description='Read a date phrase of the question ("in January 2023", "last week") as a published-date '
        "filter, kept only when the articles of that range answer about as well as all articles do.",
    )
    date_phrase_margin: float = Field(
        0.8,
        ge=0,
        description="The date range read from a question is used when its best sentence scores within "
        "this of the best sentence of all articles.",
    )
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted (characters).")
    answer_cache_size: int = Field(
        256,
        ge=0,
        description="Extractive answers kept for repeated questions, each given again only while no "
        "article was written or deleted since (0: none kept).",
    )


class LLMSettings(Section):
    """The LLM endpoint and the limits of its reply (assistant/answering/llm.py)."""

    llm_max_evidence: int = Field(8, description="Evidence sentences given to the LLM.")
    llm_temperature: float = Field(0.0, description="Sampling temperature of the LLM.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint URL.")
    llm_model: str = Field("gpt-4o-mini", description="Model name at the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(None, description="Key for the LLM endpoint.")
    llm_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Time the whole LLM reply may take, seconds: past it the reply is cut off (the "
        "sentences checked so far are kept; with none, the extractive answer is shown).",
    )
    llm_max_tokens: int = Field(
        400, ge=1, description="Most tokens the LLM is asked to generate for a reply."
    )
    llm_max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens",
        description="Request field carrying llm_max_tokens: 'max_tokens' (read by llama.cpp, vLLM, Ollama, "
        "LM Studio and OpenAI's GPT-4 family) or 'max_completion_tokens' (required by OpenAI's reasoning "
        "models; ignored by llama-cpp-python's server).",
    )
    llm_max_reply_chars: int = Field(
        2000, description="Most characters of an LLM reply read: past it the reply is cut off."
    )


class NewsSettings(Section):
    """Syndication and corroboration (ingest/storage/stories.py, assistant/news/)."""

    syndication_threshold: float = Field(
        0.7,
        gt=0,
        le=1,
        description="Estimated Jaccard similarity (word shingles) above which articles are one story.",
    )
    syndication_shingle_words: int = Field(5, ge=1, description="Words per shingle for syndication MinHash.")
    corroboration_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Cosine similarity (sentences alone) above which two sentences say the same thing.",
    )
    corroboration_candidates: int = Field(
        30, ge=1, description="Nearest sentences checked per cited sentence."
    )
