"""Compare: one form sent as a few jobs that differ in one thing, each counted by the spending guard."""

import pytest

from support.client import csrf_token
from support.pages import Page
from support.upstreams import job_body, json_response


def post_compare(client, mode, values, **fields):
    data = {
        "csrf_token": csrf_token(client),
        "prompt": "A fox in the snow",
        "compare_mode": mode,
        "compare_values": values,
        **fields,
    }
    return client.post("/compare", data=data)


def counting(upstream):
    def handler(req):
        if req.method == "POST":
            return json_response(job_body(f"video_c{len(upstream.creates)}"))
        return json_response({"data": []})

    upstream.handler = handler


def test_three_seeds_make_three_jobs_shown_side_by_side(client, upstream):
    counting(upstream)
    resp = post_compare(client, "seeds", "11, 22\n33")
    assert resp.status_code == 303 and "/compare/" in resp.headers["Location"]
    assert [r.field("seed") for r in upstream.creates] == ["11", "22", "33"]
    assert {r.field("prompt") for r in upstream.creates} == {"A fox in the snow"}
    page = Page(client.get(resp.headers["Location"]).get_data(as_text=True))
    cards = page.find("article", class_="card job-card")
    assert [c.attrs["data-job-id"] for c in cards] == ["video_c1", "video_c2", "video_c3"]
    ids = [e.attrs["id"] for e in page.elements if "id" in e.attrs]
    assert len(ids) == len(set(ids)), "ids repeat on the page"


def test_models_and_prompts_can_be_compared_too(client, upstream):
    counting(upstream)
    assert post_compare(client, "models", "kling-v1\nkling-v2-master").status_code == 303
    assert [r.field("model") for r in upstream.creates] == ["kling-v1", "kling-v2-master"]
    assert post_compare(client, "prompts", "A fox\nA wolf\n").status_code == 303
    assert [r.field("prompt") for r in upstream.creates[2:]] == ["A fox", "A wolf"]


@pytest.mark.parametrize(
    "mode,values,message",
    [
        ("seeds", "7", "at least two seeds"),
        ("seeds", "1 2 3 4 5", "At most 4 jobs go at once"),
        ("seeds", "1, two", "Seeds are whole numbers"),
        ("", "1, 2", "Choose what to compare"),
    ],
)
def test_bad_values_are_shown_at_the_field_and_nothing_is_sent(client, upstream, mode, values, message):
    resp = post_compare(client, mode, values)
    page = Page(resp.get_data(as_text=True))
    assert resp.status_code == 400 and message in page.text("compare_values-error")
    assert page.value("compare_values") == values and not upstream.creates


def test_each_job_of_a_comparison_counts_against_the_limit(make_app, upstream):
    counting(upstream)
    client = make_app(upstream.url, submit_rate_limit="2 per minute").test_client()
    resp = post_compare(client, "seeds", "1, 2, 3")
    assert resp.status_code == 303 and len(upstream.creates) == 2
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "the rest were not sent" in page and "2 per minute" in page


def test_the_same_compare_form_sent_twice_makes_its_jobs_once(client, upstream):
    counting(upstream)
    token = "f" * 32  # the form's one-time token, as the page gives it
    first = post_compare(client, "seeds", "5, 6", submission_id=token)
    again = post_compare(client, "seeds", "5, 6", submission_id=token)  # back and resend, or a double click
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]  # the same comparison
    assert [r.field("seed") for r in upstream.creates] == ["5", "6"]  # two jobs, not four


def test_a_comparison_is_filed_under_the_signed_in_person_not_the_typed_user(make_app, upstream):
    counting(upstream)
    app = make_app(upstream.url, auth_header="X-User")
    client = app.test_client()
    client.environ_base["HTTP_X_USER"] = "ana"
    assert post_compare(client, "seeds", "1, 2", user="someone-else").status_code == 303
    records = app.extensions["studio"].store.history.search()[0]
    assert len(records) == 2 and {r.submitted_by for r in records} == {"ana"}
