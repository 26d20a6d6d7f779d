"""Telling people what the desk needs of them: a notice in the desk and an e-mail.

- `models`: the `Notice` a person reads in the desk (who, what happened, which case, when read).
- `sending`: who hears of an assignment, a verdict awaiting approval, a verdict sent back and a
  publication, and what they are told; run once the change is committed.
- `views`: the notices page, opening a notice (marks it read) and marking all read.
"""
