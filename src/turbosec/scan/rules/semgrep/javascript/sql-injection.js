// Test target for sql-injection.yaml (semgrep --test); never executed.
const express = require("express");
const mysql = require("mysql2");
const { Pool } = require("pg");

const app = express();
const connection = mysql.createConnection({ host: "localhost" });
const pool = new Pool();
const TABLE = "users";

app.get("/user", (req, res) => {
  const query = "SELECT id, email FROM users WHERE name = '" + req.query.name + "'";
  // ruleid: turbosec.javascript.sql-injection
  connection.query(query, (err, rows) => res.json(rows));
});

app.get("/orders", async (req, res) => {
  // ruleid: turbosec.javascript.sql-injection
  const result = await pool.query(`SELECT * FROM orders WHERE user_id = ${req.params.id}`);
  res.json(result.rows);
});

async function search(knex, term) {
  // ruleid: turbosec.javascript.sql-injection
  return knex("items").whereRaw("title LIKE '%" + term + "%'");
}

async function prismaRaw(prisma, email) {
  // ruleid: turbosec.javascript.sql-injection
  return prisma.$queryRawUnsafe(`SELECT * FROM "User" WHERE email = '${email}'`);
}

app.get("/safe", async (req, res) => {
  // ok: turbosec.javascript.sql-injection
  const a = await pool.query("SELECT * FROM orders WHERE user_id = $1", [req.query.id]);
  // ok: turbosec.javascript.sql-injection
  const b = await pool.query("SELECT * FROM " + TABLE);
  // ok: turbosec.javascript.sql-injection
  const c = await pool.query("SELECT * FROM users " + "WHERE active = true");
  // ok: turbosec.javascript.sql-injection
  const d = await pool.query(`SELECT count(*) FROM users`);
  // ok: turbosec.javascript.sql-injection
  connection.execute("SELECT * FROM users WHERE name = ?", [req.query.name]);
  res.json([a.rows, b.rows, c.rows, d.rows]);
});

function notSql(list, prefix, name) {
  // ok: turbosec.javascript.sql-injection
  return list.find(prefix + name);
}
