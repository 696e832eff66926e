"""The client side of the Temporal application, shared by the command line (cli/), the portal,
the benchmarks and the tests: connecting (connection.py), opening and acting on declarations
(declarations.py), rounds (rounds.py), the yearly Schedule (schedule.py), operator input checked
before anything is sent (inputs.py), and one classifier for what can go wrong (errors.py).

It imports workflows/, models/, rules/, store/, delivery/, documents/ and settings.py, never
activities/, portal/ or cli/.
"""
