"""The shipped default models fill the prediction columns of a survey that has none."""
import json

from kinview.db import connect
from kinview.demo import generate_survey
from kinview.data.survey import Survey
from kinview.training import active_model, shipped_model_path
from kinview.training.shipped import predict_with_shipped_models


def test_shipped_models_predict_every_field_once_and_only_without_a_model_of_its_own(tmp_path):
    survey_dir = tmp_path / "survey"
    generate_survey(survey_dir, n=4, seed=11, jobs=1)
    Survey.open(survey_dir).close()

    done = predict_with_shipped_models(survey_dir)
    assert done == ["vfield-quality", "spin"]
    for task in done:
        record = active_model(survey_dir, task)
        assert record is not None and record.path == str(shipped_model_path(task))
    conn = connect(survey_dir)
    try:
        rows = conn.execute("SELECT m.task, p.plateifu, p.field, p.value, p.confidence FROM predictions p "
                            "JOIN models m ON m.id = p.model_id").fetchall()
        card = json.loads(conn.execute("SELECT card FROM models WHERE task = 'vfield-quality'").fetchone()[0])
    finally:
        conn.close()
    usable = [r for r in rows if r[0] == "vfield-quality"]
    spin = [r for r in rows if r[0] == "spin"]
    assert {r[1] for r in spin} == {r[1] for r in usable} and len(spin) == 4
    assert all(0.0 <= r[3] <= 1.0 and 0.5 <= r[4] <= 1.0 for r in usable)
    assert card.get("trained_on") and card.get("notes")  # the card says what it was trained on
    # a second call finds active models and does nothing
    assert predict_with_shipped_models(survey_dir) == []
