"""unprobed-flask: a Flask app from PyPI on 127.0.0.1:$PORT (Flask's own server).

GET /a        a plain line: imports nothing beyond Flask
GET /b        imports python-dateutil inside the handler and answers dates computed
              with it, one of them in a time zone whose data it reads at run time
              (from what it requires: tzdata from PyPI, or its own zone file)
GET /c        imports markdown inside the handler and renders a table with its
              "tables" extension, which markdown finds through the installed
              distributions' entry points
GET /version  importlib.metadata.version("idna"): a distribution installed but
              never imported, whose metadata is read at run time
Every answer is computed from fixed inputs (no time, pid or host name).
"""
import importlib.metadata
import os

from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/a")
def a():
    return "unprobed-flask: a\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.route("/b")
def b():
    from datetime import datetime

    from dateutil import easter, parser, rrule
    from dateutil.relativedelta import relativedelta
    from dateutil.zoneinfo import get_zonefile_instance

    leap = parser.parse("2024-02-29T12:30:00+01:00")
    month_ends = rrule.rrule(rrule.MONTHLY, count=3, dtstart=datetime(2024, 1, 31), bymonthday=-1)
    berlin = get_zonefile_instance().get("Europe/Berlin")
    return jsonify(
        app="unprobed-flask",
        parsed=leap.isoformat(),
        plus_one_year_one_month=(leap + relativedelta(years=1, months=1)).isoformat(),
        month_ends=[day.date().isoformat() for day in month_ends],
        easter_2025=easter.easter(2025).isoformat(),
        berlin_summer_offset=str(datetime(2024, 7, 1, 12, tzinfo=berlin).utcoffset()),
    )


@app.route("/c")
def c():
    import markdown

    text = "| animal | legs |\n| --- | ---: |\n| ant | 6 |\n| *bear* | 4 |\n"
    return markdown.markdown(text, extensions=["tables"]) + "\n", 200, {"Content-Type": "text/html; charset=utf-8"}


@app.route("/version")
def version():
    return jsonify(idna=importlib.metadata.version("idna"))


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "18092")))
