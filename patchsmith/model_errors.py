"""What a failed model request means: retry it or not, how long to wait, and the one sentence a user
reads. litellm's exceptions all derive from openai's `APIError`, but not from `litellm.APIError`
(NotFoundError and BadRequestError, for example, do not), so classification goes by the concrete
classes and ends in a catch-all: no litellm error may reach the user as a traceback.

litellm is imported inside the functions, so that importing this module stays cheap.
"""

from __future__ import annotations

import re


class ModelError(Exception):
    """A model call that cannot succeed as configured (credentials, context window, unknown model)."""

    user_error = True


class CostCapReached(ModelError):
    """The issue's cost cap is spent, or the next call would overrun it: the run stops here."""


# litellm wraps a 2xx answer whose body is not a completion (an HTML page, half a JSON object) as an
# InternalServerError that quotes the response; retrying cannot make the endpoint speak JSON.
_NOT_A_COMPLETION = re.compile(r"Received response - <APIResponse \[2\d\d|Expecting value|Unterminated string")


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, server errors, lost connections and time-outs: trying again may work."""
    from patchsmith.llm import litellm  # set up for offline use there

    if isinstance(exc, litellm.InternalServerError) and _NOT_A_COMPLETION.search(str(exc)):
        return False
    retryable = (
        litellm.RateLimitError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
        litellm.APIConnectionError,
        litellm.Timeout,  # the time limit of one request (not a subclass of litellm's APIConnectionError)
    )
    return isinstance(exc, retryable)


def retry_after(exc: BaseException) -> float:
    """Seconds the provider asked us to wait (a Retry-After header in seconds), else 0."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after", 0)))
    except (TypeError, ValueError):  # an HTTP date: fall back to our own backoff
        return 0.0


def short(exc: BaseException, limit: int = 200) -> str:
    """The exception's text on one line, without litellm's class-name prefixes, cut to `limit`."""
    text = " ".join(str(exc).split())
    text = re.sub(r"^(litellm\.\w+: )?(\w+Error: )?(OpenAIException - )?", "", text)
    return text[:limit] + ("..." if len(text) > limit else "")


def describe(exc: BaseException, *, model: str, endpoint: str, stage: str, api_key_env: str | None = None) -> str:
    """One sentence for a request that failed for good, naming the model and the endpoint."""
    from patchsmith.llm import litellm  # set up for offline use there

    where = f"{model} at {endpoint}"
    if isinstance(exc, litellm.ContextWindowExceededError):
        return f"the prompt for {stage} does not fit the context window of {where}"
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        key = f"the variable {api_key_env}" if api_key_env else "the provider's key variable (e.g. ANTHROPIC_API_KEY or OPENAI_API_KEY)"
        return f"{where} refused the credentials: set {key}, or name another variable with --api-key-env"
    if isinstance(exc, litellm.NotFoundError):
        return (f"{where} answered 404 not found ({short(exc, 120)}): check the model name and that the "
                "api_base ends where the server's OpenAI-compatible routes start (often /v1)")
    if isinstance(exc, litellm.InternalServerError) and _NOT_A_COMPLETION.search(str(exc)):
        return (f"{where} answered with something that is not a chat completion: check that the api_base "
                "points at an OpenAI-compatible server (often ending in /v1)")
    if isinstance(exc, litellm.Timeout):
        return f"{where} did not answer within the time limit (raise it with --model-timeout SECONDS)"
    if isinstance(exc, litellm.APIConnectionError):
        return f"{where} could not be reached: {short(exc)}"
    if isinstance(exc, (litellm.BadRequestError, litellm.UnprocessableEntityError)):
        return f"{where} rejected the request for {stage}: {short(exc)}"
    return f"{where} failed ({type(exc).__name__}): {short(exc)}"
