"""The dialplan, pure: patterns, variables, expressions, functions and the interpreter.

``model`` holds the dialplan as data and ``patterns`` Asterisk's extension matching;
``variables`` substitutes ``${...}`` and ``$[...]`` (``expressions``) with ``functions``
into step arguments, reading a channel's ``state``; ``interpreter`` runs a channel through
the priorities, handing the applications it does not run itself to the call engine;
``timing`` checks time conditions, ``appargs`` splits arguments, ``events`` are its logs.
"""
