"""Tests for ``extractorov.companies``: the registry of companies."""

from __future__ import annotations

import dataclasses

import pytest

from extractorov.companies import COMPANIES, Company, get_company


def test_both_companies_registered() -> None:
    assert set(COMPANIES) == {"afinia", "aire"}
    for empresa, company in COMPANIES.items():
        assert company.empresa == empresa


def test_afinia() -> None:
    afinia = get_company("afinia")
    assert afinia is COMPANIES["afinia"]
    assert afinia.display_name == "Afinia"
    assert afinia.portal == "caribemar.facture.co"
    assert afinia.extra_fields == ("finalizar", "adjuntar_archivo", "comentarios")
    assert afinia.extra_prefixes == ("tabla_",)
    assert afinia.dag_id == "ov_afinia"
    assert afinia.table == "ov_afinia"


def test_aire() -> None:
    aire = get_company("aire")
    assert aire.display_name == "Air-e"
    assert aire.portal == "caribesol.facture.co"
    assert aire.extra_fields == ()
    assert aire.extra_prefixes == ()
    assert aire.dag_id == "ov_aire"
    assert aire.table == "ov_aire"


def test_dag_ids_and_tables_unique() -> None:
    companies = list(COMPANIES.values())
    assert len({c.dag_id for c in companies}) == len(companies)
    assert len({c.table for c in companies}) == len(companies)


@pytest.mark.parametrize("empresa", ["Afinia", "air-e", "", "1afinia", "_x", "a b",
                                     "ov; DROP TABLE x", "../aire", "a" * 42, "aïre"])
def test_unsafe_empresa_rejected(empresa: str) -> None:
    with pytest.raises(ValueError, match="not a safe identifier"):
        Company(empresa=empresa, display_name="X", portal="x.example")


@pytest.mark.parametrize("empresa", ["aire\n", "x_\n"])
def test_empresa_with_trailing_newline_rejected(empresa: str) -> None:
    with pytest.raises(ValueError, match="not a safe identifier"):
        Company(empresa=empresa, display_name="X", portal="x.example")


@pytest.mark.parametrize("empresa", ["a", "electricaribe", "emp_2", "a" * 41])
def test_safe_empresa_accepted(empresa: str) -> None:
    company = Company(empresa=empresa, display_name="X", portal="x.example")
    assert company.table == f"ov_{empresa}"
    assert company.dag_id == f"ov_{empresa}"


@pytest.mark.parametrize("field", ["Finalizar", "tabla-x", "", "x; drop", "1x"])
def test_unsafe_extra_field_rejected(field: str) -> None:
    with pytest.raises(ValueError, match="extra field"):
        Company(empresa="nueva", display_name="X", portal="x.example", extra_fields=(field,))


def test_company_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        COMPANIES["aire"].empresa = "otra"  # type: ignore[misc]


@pytest.mark.parametrize("empresa", ["electricaribe", "AFINIA", "", "ov_afinia"])
def test_get_company_unknown_lists_known(empresa: str) -> None:
    with pytest.raises(KeyError) as info:
        get_company(empresa)
    message = info.value.args[0]
    assert message == f"unknown empresa {empresa!r}; registered companies: afinia, aire"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
