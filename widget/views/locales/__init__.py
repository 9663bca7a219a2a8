"""Catalogs of the languages beyond English, German and Russian (those live in i18n.py).

Each module holds CATALOG: every key of i18n.EN, in that language, with the plural categories
its CLDR rule uses (tests/http/test_i18n.py holds both to it).
"""
