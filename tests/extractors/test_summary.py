"""The summary of a file's readings: which reader wins each field, and where the readers disagree."""

from workers.extractors.summary import disagreements, summarise


def test_it_lists_each_readers_value_where_capture_times_differ():
    results = {
        "exif": {"make": "Canon", "captured_at": "2021-03-04T05:06:07+02:00"},
        "exiftool": {"make": "Canon", "captured_at": "2021-03-04T05:06:07+03:00"},
    }
    assert disagreements(results) == [
        {
            "field": "captured_at",
            "readers": {"exif": "2021-03-04T05:06:07+02:00", "exiftool": "2021-03-04T05:06:07+03:00"},
        }
    ]


def test_it_counts_a_value_only_one_reader_found_as_a_disagreement():
    results = {"video": {"gps": None}, "exiftool": {"gps": {"latitude": 51.4169, "longitude": -0.0806}}}
    assert disagreements(results) == [{"field": "gps", "readers": {"video": None, "exiftool": [51.4169, -0.0806]}}]


def test_it_takes_positions_a_few_metres_apart_and_sub_seconds_as_agreeing():
    results = {
        "exif": {"gps": {"latitude": 48.85660, "longitude": 2.35220}, "captured_at": "2021-03-04T05:06:07.25"},
        "exiftool": {"gps": {"latitude": 48.85661, "longitude": 2.35221}, "captured_at": "2021-03-04T05:06:07"},
    }
    assert disagreements(results) == []


def test_it_has_nothing_to_compare_with_one_reader():
    assert disagreements({"exif": {"make": "Canon"}}) == []


def test_it_falls_back_to_exiftool_for_a_time_only_it_read():
    summary = summarise({"exif": {"make": "SONY"}, "exiftool": {"captured_at": "2018-06-07T08:09:10+09:00"}})
    assert summary["captured_at_text"] == "2018-06-07T08:09:10+09:00"
    assert summary["disagreements"][-1] == {
        "field": "captured_at",
        "readers": {"exif": None, "exiftool": "2018-06-07T08:09:10+09:00"},
    }
