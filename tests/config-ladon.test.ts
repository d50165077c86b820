/**
 * The LadonStack's config checks (components/config/ladon.ts) as an operator meets them: each
 * value a check refuses, refused at its own key with its own message, the edge values it accepts,
 * and the defaults a stack that leaves the key out gets. Pure and fast (no synthesis), from the
 * committed stack file with one key changed.
 */
import { LAB_SECRETS, labConfigMap } from "./support/lab";
import { loadLab, refusals, verdict, withKey } from "./support/verdict";

const at = (key: string) => `citadel:ladon.${key}`;

describe("the LadonStack's config checks refuse, at the key, with a fix", () => {
  it.each([
    [
      "prometheus.retentionTime",
      "0d",
      "0d switches Prometheus's time retention off (data would be kept until retentionSize alone); use a duration such as 30d",
    ],
    [
      "prometheus.retentionTime",
      "000w",
      "000w switches Prometheus's time retention off (data would be kept until retentionSize alone); use a duration such as 30d",
    ],
    ["prometheus.retentionTime", "30h", "must be a duration in days, weeks or years, e.g. 30d"],
    ["prometheus.retentionTime", "x30d", "must be a duration in days, weeks or years, e.g. 30d"],
    ["prometheus.retentionTime", "30dd", "must be a duration in days, weeks or years, e.g. 30d"],
    ["prometheus.retentionSize", "50 apples", "must be a size such as 50GiB"],
    [
      "prometheus.scrapeInterval",
      "0s",
      "0s is no interval: Prometheus silently scrapes every 1m instead; use a duration such as 30s",
    ],
    [
      "prometheus.scrapeInterval",
      "151s",
      "151s is longer than 150s: the alert rules' 5m rate windows need two samples each, so they would never fire; use 30s",
    ],
    [
      "prometheus.scrapeInterval",
      "3m",
      "3m is longer than 150s: the alert rules' 5m rate windows need two samples each, so they would never fire; use 30s",
    ],
    ["prometheus.scrapeInterval", "30", "must be seconds or minutes, e.g. 30s"],
    ["prometheus.scrapeInterval", "s30s", "must be seconds or minutes, e.g. 30s"],
    [
      "loki.retentionPeriod",
      "0h",
      "0h switches Loki's retention off (logs would be kept forever); use hours such as 744h",
    ],
    ["loki.retentionPeriod", "31d", "must be hours, e.g. 744h"],
    ["loki.retentionPeriod", "h744h", "must be hours, e.g. 744h"],
    ["loki.expectedDailyIngest", "lots", "must be a size such as 1GiB"],
    ["prometheus.scrapeInterval", "30sx", "must be seconds or minutes, e.g. 30s"],
    ["loki.retentionPeriod", "744hx", "must be hours, e.g. 744h"],
    [
      "alertmanager.webhooks",
      [{ name: "hades!", url: "http://h:1/a" }],
      "must be lower-case letters, digits and -",
    ],
    [
      "alertmanager.webhooks",
      [{ name: "x".repeat(32), url: "http://h:1/a" }],
      "must be lower-case letters, digits and -",
    ],
    ["alertmanager.webhooks", [{ name: "hades", url: "xhttp://h:1/a" }], "must be an http(s) URL"],
    ["alertmanager.webhooks", [{ name: "hades", url: "httpx://h:1/a" }], "must be an http(s) URL"],
    [
      "alertmanager.emails",
      [{ name: "m", to: "a@b.lab", from: "c@d.lab", smarthost: "smtp.lab:587x" }],
      "must be host:port",
    ],
    [
      "alertmanager.emails",
      [{ name: "m", to: "a@b.lab", from: "c@d.lab", smarthost: "/smtp.lab:587" }],
      "must be host:port",
    ],
    [
      "alertmanager.emails",
      [{ name: "m", to: "a@b.lab", from: "c@d.lab", smarthost: "smtp.lab:x" }],
      "must be host:port",
    ],
    ["dataDir", "srv/data", "must be an absolute path"],
    ["dataDir", "/srv/da ta", "must be an absolute path"],
    [
      "phoenix.hadesProject",
      "a/b",
      "must be a project name of letters, digits, . _ - (no / ? #: it is part of a URL)",
    ],
    [
      "phoenix.hadesProject",
      "-x",
      "must be a project name of letters, digits, . _ - (no / ? #: it is part of a URL)",
    ],
    [
      "thresholds.vgFreeRatio",
      0,
      "0 switches the alert off without saying so; write off to switch it off, or a fraction such as 0.02",
    ],
    ["thresholds.vgFreeRatio", 1, "must be a fraction between 0 and 1 such as 0.02, or off"],
    ["thresholds.vgFreeRatio", -0.1, "must be a fraction between 0 and 1 such as 0.02, or off"],
    ["thresholds.diskFreeRatio", 0, "must be above 0; a fraction of the filesystem such as 0.1"],
    [
      "thresholds.diskFreeRatio",
      1,
      "must be below 1: the measured fraction never exceeds 1, so the alert could never fire; a fraction of the filesystem such as 0.1",
    ],
    [
      "alertmanager.webhooks",
      [{ name: "Hades", url: "http://h:1/a" }],
      "must be lower-case letters, digits and -",
    ],
    ["alertmanager.webhooks", [{ name: "hades", url: "ftp://h/a" }], "must be an http(s) URL"],
    [
      "alertmanager.emails",
      [{ name: "m", to: "a@b.lab", from: "c@d.lab", smarthost: "smtp" }],
      "must be host:port",
    ],
  ])("%s: %j", (key, value, message) => {
    expect(refusals(at(key), value)).toContain(message);
  });
});

describe("and refuse too", () => {
  it.each([
    ["memoryMiB", { prometheus: 31 }],
    ["headroomGiB", -1],
    ["grafana.url", "ftp://192.168.10.29:9900"],
    [
      "alertmanager.emails",
      [{ name: "m", to: "a@b.lab", from: "c@d.lab", smarthost: "s:1", authUsername: "" }],
    ],
  ])("%s: %j", (key, value) => {
    expect(refusals(at(key), value)).toHaveLength(1);
  });
});

describe("the edge values they accept", () => {
  it.each([
    ["prometheus.retentionTime", "1d"],
    ["prometheus.retentionTime", "52w"],
    ["prometheus.retentionTime", "1y"],
    ["prometheus.scrapeInterval", "150s"],
    ["prometheus.scrapeInterval", "2m"],
    ["prometheus.scrapeInterval", "1s"],
    ["loki.retentionPeriod", "1h"],
    ["thresholds.vgFreeRatio", "off"],
    ["thresholds.vgFreeRatio", 0.5],
    ["thresholds.diskFreeRatio", 0.99],
    ["phoenix.hadesProject", "HADES.rag_v2-1"],
    ["dataDir", "/srv/data/ladon-2.0"],
    ["alertmanager.webhooks", [{ name: "hades", url: "http://192.168.10.30:5001/alerts" }]],
    ["alertmanager.webhooks", [{ name: "h".repeat(31), url: "https://hades.lab/alerts" }]],
    ["grafana.url", "http://192.168.10.29:9900"],
    ["memoryMiB", { prometheus: 1024, loki: 32 }],
    ["headroomGiB", 4],
  ])("%s: %j", (key, value) => {
    expect(verdict(withKey(at(key), value))).toBe("accepted");
  });

  it("an e-mail receiver that logs in, with the SMTP password set", () => {
    const email = {
      name: "m",
      to: "a@b.lab",
      from: "c@d.lab",
      smarthost: "smtp.lab:587",
      authUsername: "ladon",
    };
    expect(
      verdict(withKey(at("alertmanager.emails"), [email]), [...LAB_SECRETS, "alertmanagerSmtpPassword"]),
    ).toBe("accepted");
  });
});

describe("the defaults a stack that leaves a key out gets", () => {
  it("retention, scrape interval, data directory and thresholds", () => {
    const config = labConfigMap();
    config["citadel:ladon"] = { host: "citadel" };
    const ladon = loadLab(config).lab.ladon!;
    expect(ladon.dataDir).toBe("/srv/data/ladon");
    expect(ladon.prometheus).toEqual({ retentionTime: "30d", retentionSize: "50GiB", scrapeInterval: "30s" });
    expect(ladon.loki).toEqual({ retentionPeriod: "744h", expectedDailyIngest: "1GiB" });
    expect(ladon.phoenix).toEqual({ retentionDays: 30, hadesProject: "hades" });
    expect(ladon.alertmanager).toEqual({ webhooks: [], emails: [] });
    const email = { name: "m", to: "a@b.lab", from: "c@d.lab", smarthost: "smtp.lab:587" };
    const withEmail = labConfigMap();
    withEmail["citadel:ladon"] = { host: "citadel", alertmanager: { emails: [email] } };
    expect(loadLab(withEmail).lab.ladon!.alertmanager.emails).toEqual([{ ...email, requireTls: true }]);
    expect(ladon.memoryMiB).toEqual({});
    expect(ladon.headroomGiB).toBe(2);
    expect(ladon.thresholds).toMatchObject({
      gpuTemperatureCelsius: 85,
      gpuPowerRatio: 0.95,
      gpuMemoryRatio: 0.97,
      ttftP95Seconds: 5,
      requestsWaiting: 5,
      kvCacheRatio: 0.95,
      vgFreeRatio: 0.02,
      diskFreeRatio: 0.1,
      backupMaxAgeHours: 26,
    });
  });
});
