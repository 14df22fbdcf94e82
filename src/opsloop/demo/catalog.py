"""Fixed vocabularies of the demo product: countries, devices, channels, pages and catalogue words.

Strings here reach event JSON through orjson, so any character is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST = "shop.example.com"
URL = f"https://{HOST}"

PLATFORMS = ("ios", "android", "web_desktop", "web_mobile")
APP_PLATFORMS = (0, 1)  # indexes of the native apps in PLATFORMS

# code, share of visitors, platform mix (PLATFORMS order): Android dominates in CN/BR/IN, iOS in US/GB.
COUNTRIES: tuple[tuple[str, float, tuple[float, float, float, float]], ...] = (
    ("US", 0.30, (0.42, 0.20, 0.26, 0.12)),
    ("CN", 0.13, (0.25, 0.55, 0.10, 0.10)),
    ("ES", 0.10, (0.25, 0.45, 0.18, 0.12)),
    ("MX", 0.08, (0.18, 0.55, 0.14, 0.13)),
    ("GB", 0.10, (0.45, 0.22, 0.22, 0.11)),
    ("DE", 0.09, (0.30, 0.35, 0.25, 0.10)),
    ("BR", 0.10, (0.15, 0.60, 0.13, 0.12)),
    ("IN", 0.10, (0.08, 0.70, 0.10, 0.12)),
)

# country -> (city, UTC offset in whole hours (no DST; India rounded), weight)
CITIES: dict[str, tuple[tuple[str, int, float], ...]] = {
    "US": (
        ("New York", -5, 3),
        ("Los Angeles", -8, 2.5),
        ("Chicago", -6, 1.5),
        ("Austin", -6, 1),
        ("Seattle", -8, 1),
        ("Miami", -5, 1),
    ),
    "CN": (
        ("Shanghai", 8, 3),
        ("Beijing", 8, 3),
        ("Shenzhen", 8, 2),
        ("Guangzhou", 8, 2),
        ("Chengdu", 8, 1),
        ("Hangzhou", 8, 1),
    ),
    "ES": (
        ("Madrid", 1, 3),
        ("Barcelona", 1, 2.5),
        ("Valencia", 1, 1),
        ("Sevilla", 1, 1),
        ("Bilbao", 1, 0.5),
    ),
    "MX": (("Ciudad de México", -6, 4), ("Guadalajara", -6, 1.5), ("Monterrey", -6, 1.5), ("Puebla", -6, 1)),
    "GB": (
        ("London", 0, 4),
        ("Manchester", 0, 1.5),
        ("Birmingham", 0, 1),
        ("Edinburgh", 0, 1),
        ("Bristol", 0, 0.7),
    ),
    "DE": (
        ("Berlin", 1, 3),
        ("München", 1, 2),
        ("Hamburg", 1, 2),
        ("Köln", 1, 1.2),
        ("Frankfurt am Main", 1, 1),
    ),
    "BR": (
        ("São Paulo", -3, 4),
        ("Rio de Janeiro", -3, 2.5),
        ("Belo Horizonte", -3, 1),
        ("Brasília", -3, 1),
        ("Porto Alegre", -3, 0.8),
    ),
    "IN": (
        ("Mumbai", 5, 3),
        ("Delhi", 5, 3),
        ("Bengaluru", 5, 2.5),
        ("Hyderabad", 5, 1.5),
        ("Chennai", 5, 1.2),
        ("Pune", 5, 1),
    ),
}

FIRST_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # country -> (female, male)
    "US": (
        ("Emily", "Olivia", "Ava", "Madison", "Grace", "Chloe"),
        ("James", "Michael", "Ethan", "Noah", "Daniel", "Tyler"),
    ),
    "CN": (
        ("Li Na", "Wang Fang", "Zhang Min", "Liu Yang", "Chen Jing", "Yang Xue"),
        ("Wang Wei", "Li Qiang", "Zhang Lei", "Liu Bo", "Chen Hao", "Zhao Jun"),
    ),
    "ES": (
        ("Lucía", "María", "Paula", "Sofía", "Carmen", "Marta"),
        ("Hugo", "Pablo", "Álvaro", "Javier", "Sergio", "Mateo"),
    ),
    "MX": (
        ("Ximena", "Valentina", "Regina", "Fernanda", "Camila", "Renata"),
        ("Santiago", "Diego", "Emiliano", "Leonardo", "Luis", "Andrés"),
    ),
    "GB": (
        ("Amelia", "Isla", "Poppy", "Freya", "Harriet", "Imogen"),
        ("Oliver", "George", "Harry", "Alfie", "Jack", "Archie"),
    ),
    "DE": (
        ("Hannah", "Lena", "Mia", "Leonie", "Jana", "Katrin"),
        ("Lukas", "Jonas", "Felix", "Maximilian", "Tobias", "Jürgen"),
    ),
    "BR": (
        ("Ana", "Beatriz", "Larissa", "Juliana", "Gabriela", "Letícia"),
        ("João", "Pedro", "Gabriel", "Rafael", "Thiago", "Lucas"),
    ),
    "IN": (
        ("Priya", "Ananya", "Diya", "Kavya", "Isha", "Meera"),
        ("Aarav", "Vihaan", "Arjun", "Rohan", "Aditya", "Karan"),
    ),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore", "Taylor"),
    "CN": ("", "", "", "", "", "", "", ""),  # Chinese given names above already carry the family name
    "ES": ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz"),
    "MX": ("Hernández", "González", "Rodríguez", "Ramírez", "Flores", "Cruz", "Morales", "Reyes"),
    "GB": ("Jones", "Williams", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes"),
    "DE": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
    "BR": ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira"),
    "IN": ("Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair"),
}
GENDERS = (("female", 0.49), ("male", 0.48), ("non_binary", 0.03))
EMAIL_DOMAINS = ("example.com", "example.org")


@dataclass(frozen=True)
class Channel:
    """An acquisition channel: how visitors arrive through it and how they behave afterwards."""

    name: str
    share: float  # of all first visits
    medium: str
    campaigns: tuple[str, ...]
    referrers: tuple[str, ...]
    cac: float | None  # advertising cost per sign-up in USD; None: unpaid
    weekend: float  # first visits on Saturday/Sunday relative to weekdays
    signup: float  # probability that a visitor signs up
    engagement: float  # multiplier on the visitor's engagement (retention)
    purchase: float  # multiplier on each purchase-funnel step


CHANNELS: tuple[Channel, ...] = (
    Channel(
        "organic",
        0.30,
        "organic",
        ("seo",),
        ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/", "$direct"),
        None,
        1.10,
        0.91,
        1.05,
        1.00,
    ),
    Channel(
        "search_ads",
        0.16,
        "cpc",
        ("brand_search", "generic_shopping", "competitor_terms"),
        ("https://www.google.com/", "https://www.bing.com/"),
        14.0,
        0.85,
        0.90,
        1.00,
        1.30,
    ),
    Channel(
        "social_ads",
        0.16,
        "paid_social",
        ("spring_lookbook", "retargeting", "lookalike_buyers"),
        ("https://www.facebook.com/", "https://www.instagram.com/", "https://www.tiktok.com/"),
        8.5,
        1.30,
        0.84,
        0.80,
        0.80,
    ),
    Channel(
        "referral",
        0.10,
        "referral",
        ("content_share",),
        ("https://web.whatsapp.com/", "https://t.co/", "https://www.reddit.com/", "$direct"),
        None,
        1.20,
        0.95,
        1.20,
        1.15,
    ),
    Channel(
        "app_store",
        0.10,
        "app_store",
        ("store_search", "featured_today"),
        ("https://apps.apple.com/", "https://play.google.com/"),
        6.0,
        1.20,
        0.93,
        1.05,
        1.00,
    ),
    Channel(
        "influencer",
        0.08,
        "influencer",
        ("creator_haul", "unboxing_series"),
        ("https://www.youtube.com/", "https://www.instagram.com/", "https://www.tiktok.com/"),
        21.0,
        1.30,
        0.86,
        0.85,
        0.90,
    ),
    Channel(
        "email",
        0.10,
        "email",
        ("weekly_digest", "partner_newsletter"),
        ("https://mail.google.com/", "https://outlook.live.com/", "$direct"),
        None,
        0.70,
        0.92,
        1.10,
        1.20,
    ),
)
INFLUENCER_POST_EVERY = 15  # days between sponsored creator posts; first visits spike after each
NEWSLETTER_WEEKDAY = 1  # Tuesday: the partner newsletter goes out

# Per platform (PLATFORMS order): sign-up, onboarding and purchase-funnel multipliers; mobile web is clumsy.
PLATFORM_SIGNUP = (1.00, 0.98, 1.00, 0.90)
PLATFORM_ONBOARDING = (0.80, 0.70, 0.82, 0.60)
PLATFORM_PURCHASE = (1.10, 0.95, 1.10, 0.75)
PLATFORM_LIB = ("opsloop-ios", "opsloop-android", "web", "web")
OS_VERSIONS = {
    "iOS": ("17.5", "17.6", "18.0", "18.1", "18.2"),
    "Android": ("13", "14", "15"),
    "Windows": ("10", "11"),
    "Mac OS X": ("14.6", "15.1"),
    "Linux": ("",),
}
DESKTOP_OS = (("Windows", 0.60), ("Mac OS X", 0.33), ("Linux", 0.07))
DESKTOP_BROWSERS = (("Chrome", 0.62), ("Safari", 0.16), ("Firefox", 0.08), ("Microsoft Edge", 0.14))
APP_RELEASE_EVERY = 14  # days between app releases; people update with a lag of a few releases

# Local-time hour-of-day activity: quiet nights, a lunch bump and an evening peak.
DIURNAL = (
    0.35,
    0.20,
    0.12,
    0.08,
    0.07,
    0.10,
    0.25,
    0.50,
    0.75,
    0.85,
    0.90,
    1.00,
    1.10,
    1.05,
    0.95,
    0.90,
    0.95,
    1.05,
    1.20,
    1.40,
    1.50,
    1.40,
    1.10,
    0.70,
)
# Monday..Sunday: a shopping app peaks on weekends.
WEEKDAY_ACTIVITY = (0.95, 0.95, 0.97, 1.00, 1.05, 1.12, 1.10)

# Navigation pages: (web path, app screen name, weight for casual browsing); index 0 is home.
PAGES: tuple[tuple[str, str, float], ...] = (
    ("/", "Home", 0.0),
    ("/feed", "Feed", 3.0),
    ("/search", "Search", 2.0),
    ("/deals", "Deals", 1.5),
    ("/account", "Profile", 1.0),
    ("/notifications", "Notifications", 0.8),
    ("/settings", "Settings", 0.3),
    ("/cart", "Cart", 0.0),
    ("/checkout", "Checkout", 0.0),
)
PAGE_CART = 7
PAGE_CHECKOUT = 8

CONTENT_CATEGORIES = ("fashion", "tech", "home", "beauty", "fitness", "food", "travel", "gaming")
N_CONTENT = 5_000
N_AUTHORS = 400
SHARE_CHANNELS = ("whatsapp", "copy_link", "instagram", "wechat", "email", "sms")

# category -> (median price USD, log-normal sigma)
PRODUCT_CATEGORIES: tuple[tuple[str, float, float], ...] = (
    ("electronics", 120.0, 0.7),
    ("fashion", 45.0, 0.5),
    ("home", 60.0, 0.6),
    ("beauty", 25.0, 0.4),
    ("sports", 55.0, 0.6),
    ("books", 15.0, 0.3),
    ("toys", 30.0, 0.5),
    ("grocery", 12.0, 0.4),
)
N_PRODUCTS = 1_500
PAYMENT_METHODS = ("card", "paypal", "apple_pay", "google_pay", "alipay")

SIGNUP_SOURCES = ("landing_cta", "header_button", "checkout_gate", "content_paywall")
SIGNUP_METHODS = (("email", 0.5), ("google", 0.3), ("apple", 0.2))
PRO_AT_SIGNUP = 0.05
BILLING = (("monthly", 9.99), ("yearly", 89.0))

# Re-engagement campaigns at fractions of the period; they target people dormant for >= 14 days.
CAMPAIGNS: tuple[tuple[str, float], ...] = (("we_miss_you", 0.55), ("flash_sale_comeback", 0.85))
DORMANT_DAYS = 14
