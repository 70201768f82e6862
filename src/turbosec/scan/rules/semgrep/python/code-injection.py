# mypy: ignore-errors
# Test target for code-injection.yaml (semgrep --test); never imported.
import ast
import builtins

from flask import request


def calculator():
    expression = request.args.get("expr", "0")
    # ruleid: turbosec.python.code-injection
    return str(eval(expression))


def run_snippet(source):
    # ruleid: turbosec.python.code-injection
    exec(source, {})


def dynamic_attribute(obj, name):
    # ruleid: turbosec.python.code-injection
    return eval("obj." + name)


def via_builtins(text):
    # ruleid: turbosec.python.code-injection
    return builtins.eval(text)


def literal_only(text):
    # ok: turbosec.python.code-injection
    return ast.literal_eval(text)


def constant_code():
    # ok: turbosec.python.code-injection
    exec("import this")
    # ok: turbosec.python.code-injection
    return eval("1 + 2")


class Model:
    def eval(self, data):
        return data

    def predict(self, data):
        # ok: turbosec.python.code-injection
        return self.eval(data)
