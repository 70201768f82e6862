"""``turbosec watch``: Sigma rules and correlations evaluated over live security logs.

``rules`` loads and compiles Sigma rules, ``engine`` evaluates them with windows and
bounded state, ``sources`` reads files (following rotation) and stdin, ``sinks`` deliver
alerts and ``response`` acts on them.
"""
