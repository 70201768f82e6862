# mypy: ignore-errors
# Test target for sql-injection.yaml (semgrep --test); never imported.
import sqlite3

import pandas as pd
import sqlalchemy
from django.db import connection

DB = sqlite3.connect("app.db")
TABLE = "users"
PAGE_SIZE = 50


def concatenated(name):
    query = "SELECT id, email FROM users WHERE name = '" + name + "'"
    # ruleid: turbosec.python.sql-injection
    return DB.execute(query).fetchall()


def percent_format(cur, user_id):
    # ruleid: turbosec.python.sql-injection
    cur.execute("SELECT * FROM orders WHERE user_id = %s" % user_id)


def str_format(cur, status):
    # ruleid: turbosec.python.sql-injection
    cur.executemany("UPDATE jobs SET status = '{}'".format(status), [])


def f_string(cur, name):
    # ruleid: turbosec.python.sql-injection
    cur.execute(f"DELETE FROM sessions WHERE owner = '{name}'")


def django_raw(model, term):
    sql = "SELECT * FROM app_item WHERE title LIKE '%%" + term + "%%'"
    # ruleid: turbosec.python.sql-injection
    return model.objects.raw(sql)


def django_cursor(order):
    with connection.cursor() as cur:
        # ruleid: turbosec.python.sql-injection
        cur.execute("SELECT * FROM app_item ORDER BY " + order)


def sqlalchemy_text(engine, name):
    with engine.connect() as conn:
        # ruleid: turbosec.python.sql-injection
        conn.execute(sqlalchemy.text(f"SELECT * FROM users WHERE name = '{name}'"))


def pandas_query(conn, table):
    # ruleid: turbosec.python.sql-injection
    return pd.read_sql("SELECT * FROM " + table, conn)


def parameterised(cur, name):
    # ok: turbosec.python.sql-injection
    cur.execute("SELECT * FROM users WHERE name = ?", (name,))
    # ok: turbosec.python.sql-injection
    cur.execute("SELECT * FROM users WHERE name = %s", (name,))
    query = "SELECT * FROM users WHERE name = :name"
    # ok: turbosec.python.sql-injection
    cur.execute(query, {"name": name})


def constant_pieces(cur):
    # ok: turbosec.python.sql-injection
    cur.execute("SELECT * FROM " + TABLE)
    # ok: turbosec.python.sql-injection
    cur.execute("SELECT * FROM users " + "WHERE active = 1")
    # ok: turbosec.python.sql-injection
    cur.execute("SELECT * FROM users LIMIT %d" % 10)
    # ok: turbosec.python.sql-injection
    cur.execute(f"SELECT * FROM users")


def not_a_database(executor, job):
    # ok: turbosec.python.sql-injection
    executor.submit("run " + job)
